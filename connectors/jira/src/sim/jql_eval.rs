//! Evaluating a parsed JQL query on the simulated issues, and ORDER BY.

use std::cmp::Ordering;

use serde_json::Value;

use super::jql::{parse_date, Expr};
use super::state::{IssueRec, State};

fn compare_text(actual: &str, op: &str, wanted: &str) -> bool {
    let eq = actual.eq_ignore_ascii_case(wanted);
    match op {
        "=" | "in" => eq,
        "!=" => !eq,
        "~" => actual.to_lowercase().contains(&wanted.to_lowercase()),
        "!~" => !actual.to_lowercase().contains(&wanted.to_lowercase()),
        _ => false,
    }
}

fn path_value<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .filter(|p| !p.is_empty())
        .try_fold(value, |v, p| v.get(p))
}

impl Expr {
    pub(crate) fn matches(&self, state: &State, issue: &IssueRec) -> Result<bool, String> {
        Ok(match self {
            Expr::And(a, b) => a.matches(state, issue)? && b.matches(state, issue)?,
            Expr::Or(a, b) => a.matches(state, issue)? || b.matches(state, issue)?,
            Expr::Not(a) => !a.matches(state, issue)?,
            Expr::Clause { field, op, values } => {
                let any = |actual: &str| values.iter().any(|v| compare_text(actual, op, v));
                let all_ne = |actual: &str| values.iter().all(|v| compare_text(actual, op, v));
                let text = |actual: &str| {
                    if op == "!=" {
                        all_ne(actual)
                    } else {
                        any(actual)
                    }
                };
                let lower = field.to_ascii_lowercase();
                if let Some(rest) = lower.strip_prefix("issue.property[") {
                    let (key, path) = rest
                        .split_once(']')
                        .ok_or_else(|| format!("Field '{field}' does not exist."))?;
                    let actual = issue
                        .properties
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(key))
                        .and_then(|(_, v)| path_value(v, path))
                        .map(|v| v.as_str().map(str::to_string).unwrap_or(v.to_string()));
                    return Ok(match actual {
                        Some(a) => text(&a),
                        None => op == "!=",
                    });
                }
                match lower.as_str() {
                    "project" => {
                        let p = state.project(issue.project);
                        values.iter().any(|v| {
                            p.is_some_and(|p| {
                                p.key.eq_ignore_ascii_case(v)
                                    || p.id == v
                                    || p.name.eq_ignore_ascii_case(v)
                            })
                        }) != (op == "!=")
                    }
                    "key" | "issuekey" => text(&issue.key),
                    "id" => text(&issue.id.to_string()),
                    "summary" | "text" => text(&issue.summary),
                    "status" => text(state.status(issue.status).map(|s| s.name).unwrap_or("")),
                    "priority" => {
                        let name = state
                            .priorities
                            .iter()
                            .find(|(id, _)| *id == issue.priority)
                            .map(|(_, n)| *n)
                            .unwrap_or("");
                        text(name)
                    }
                    "resolution" => {
                        let actual = issue.resolution.as_deref().unwrap_or("Unresolved");
                        let empty = ["unresolved", "empty", "null"];
                        let is_empty = issue.resolution.is_none();
                        values.iter().any(|v| {
                            if empty.contains(&v.to_ascii_lowercase().as_str()) {
                                is_empty == (op != "!=")
                            } else {
                                compare_text(actual, op, v)
                            }
                        })
                    }
                    "labels" => {
                        let hit = issue
                            .labels
                            .iter()
                            .any(|l| values.iter().any(|v| l.eq_ignore_ascii_case(v)));
                        hit != (op == "!=")
                    }
                    "updated" | "created" => {
                        let actual = if lower == "updated" {
                            issue.updated
                        } else {
                            issue.created
                        };
                        let wanted = values
                            .first()
                            .and_then(|v| parse_date(v))
                            .ok_or_else(|| {
                                format!(
                                    "Date value '{}' for field '{field}' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.",
                                    values.first().map(String::as_str).unwrap_or("")
                                )
                            })?;
                        let ord = actual.cmp(&wanted);
                        match op.as_str() {
                            ">=" => ord != Ordering::Less,
                            ">" => ord == Ordering::Greater,
                            "<=" => ord != Ordering::Greater,
                            "<" => ord == Ordering::Less,
                            "=" => ord == Ordering::Equal,
                            "!=" => ord != Ordering::Equal,
                            _ => {
                                return Err(format!(
                                    "The operator '{op}' is not supported by the '{field}' field."
                                ))
                            }
                        }
                    }
                    _ => {
                        return Err(format!(
                        "Field '{field}' does not exist or you do not have permission to view it."
                    ))
                    }
                }
            }
        })
    }
}

/// Sorts issues by the query's ORDER BY (default: key descending... as
/// Jira's default is by created descending, here id descending).
pub(crate) fn sort(order: &[(String, bool)], issues: &mut [&IssueRec]) {
    if order.is_empty() {
        issues.sort_by_key(|i| std::cmp::Reverse(i.id));
        return;
    }
    issues.sort_by(|a, b| {
        for (field, asc) in order {
            let ord = match field.as_str() {
                "updated" => a.updated.cmp(&b.updated),
                "created" => a.created.cmp(&b.created),
                _ => a.id.cmp(&b.id),
            };
            let ord = if *asc { ord } else { ord.reverse() };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        a.id.cmp(&b.id)
    });
}
