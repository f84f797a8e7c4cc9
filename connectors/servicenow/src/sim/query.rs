//! Encoded queries (`sysparm_query`): parsing and evaluation.
//!
//! `a=1^b=2` is AND, `^OR` joins a clause to the one before it (binding
//! tighter than `^`), `^NQ` starts an alternative query, `ORDERBY<col>` and
//! `ORDERBYDESC<col>` sort. Operators: `=`, `!=`, `>`, `>=`, `<`, `<=`,
//! `LIKE`, `NOT LIKE`, `STARTSWITH`, `ENDSWITH`, `IN`, `NOT IN`, `ISEMPTY`,
//! `ISNOTEMPTY`. A clause naming a field the table does not have, or one that
//! cannot be parsed, is ignored (the platform does the same, silently).
//! `^^` in a value stands for a literal `^`.

use std::cmp::Ordering;

use super::state::{Data, Rec};

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Like,
    NotLike,
    StartsWith,
    EndsWith,
    In,
    NotIn,
    Empty,
    NotEmpty,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Clause {
    pub field: String,
    pub op: Op,
    pub value: String,
}

/// A parsed encoded query.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Query {
    /// Alternatives (`^NQ`); each is an AND of OR-groups.
    pub alternatives: Vec<Vec<Vec<Clause>>>,
    /// (field, descending)
    pub order: Vec<(String, bool)>,
}

/// Operators by their text, longest first so `>=` wins over `>`.
const OPS: &[(&str, Op)] = &[
    ("ISNOTEMPTY", Op::NotEmpty),
    ("ISEMPTY", Op::Empty),
    ("STARTSWITH", Op::StartsWith),
    ("ENDSWITH", Op::EndsWith),
    ("NOT LIKE", Op::NotLike),
    ("NOTLIKE", Op::NotLike),
    ("NOT IN", Op::NotIn),
    ("LIKE", Op::Like),
    ("IN", Op::In),
    ("!=", Op::Ne),
    (">=", Op::Ge),
    ("<=", Op::Le),
    ("=", Op::Eq),
    (">", Op::Gt),
    ("<", Op::Lt),
];

/// Splits on single `^`, keeping `^^` as a literal caret.
fn split_terms(text: &str) -> Vec<String> {
    let mut terms = vec![String::new()];
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '^' {
            if chars.peek() == Some(&'^') {
                chars.next();
                if let Some(t) = terms.last_mut() {
                    t.push('^');
                }
            } else {
                terms.push(String::new());
            }
        } else if let Some(t) = terms.last_mut() {
            t.push(c);
        }
    }
    terms
}

fn parse_clause(term: &str) -> Option<Clause> {
    let end = term
        .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.'))
        .unwrap_or(term.len());
    let (field, rest) = term.split_at(end);
    if field.is_empty() {
        return None;
    }
    let (text, op) = OPS.iter().find(|(text, _)| rest.starts_with(text))?;
    Some(Clause {
        field: field.to_string(),
        op: op.clone(),
        value: rest[text.len()..].to_string(),
    })
}

impl Query {
    pub fn parse(text: &str) -> Query {
        let mut query = Query::default();
        let mut current: Vec<Vec<Clause>> = Vec::new();
        for term in split_terms(text) {
            if term.is_empty() || term == "EQ" {
                continue;
            }
            let term = match term.strip_prefix("NQ") {
                Some(rest) => {
                    query.alternatives.push(std::mem::take(&mut current));
                    rest.to_string()
                }
                None => term,
            };
            if term.is_empty() {
                continue;
            }
            if let Some(field) = term.strip_prefix("ORDERBYDESC") {
                query.order.push((field.to_string(), true));
                continue;
            }
            if let Some(field) = term.strip_prefix("ORDERBY") {
                query.order.push((field.to_string(), false));
                continue;
            }
            if let Some(rest) = term.strip_prefix("OR") {
                if let (Some(clause), Some(group)) = (parse_clause(rest), current.last_mut()) {
                    group.push(clause);
                    continue;
                }
            }
            if let Some(clause) = parse_clause(&term) {
                current.push(vec![clause]);
            }
        }
        query.alternatives.push(current);
        query
    }

    /// Whether `rec` of `table` matches.
    pub fn matches(&self, data: &Data, table: &str, rec: &Rec) -> bool {
        self.alternatives.iter().any(|groups| {
            groups.iter().all(|group| {
                let known: Vec<&Clause> = group
                    .iter()
                    .filter(|c| data.knows_field(table, &c.field))
                    .collect();
                known.is_empty() || known.iter().any(|c| c.holds(data, table, rec))
            })
        })
    }

    /// Sorts rows (already in insertion order) by the ORDERBY terms.
    pub fn sort(&self, data: &Data, table: &str, rows: &mut [&Rec]) {
        rows.sort_by(|a, b| {
            for (field, desc) in &self.order {
                let ord = compare(
                    &value_of(data, table, a, field),
                    &value_of(data, table, b, field),
                );
                let ord = if *desc { ord.reverse() } else { ord };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            Ordering::Equal
        });
    }
}

/// A field's value, following one dot-walk through a reference (`assignment_group.name`).
fn value_of(data: &Data, table: &str, rec: &Rec, field: &str) -> String {
    match field.split_once('.') {
        None => rec.get(field).cloned().unwrap_or_default(),
        Some((reference, rest)) => {
            let target = super::render::reference_target(table, reference);
            let id = rec.get(reference).cloned().unwrap_or_default();
            target
                .and_then(|t| data.get(t, &id).map(|r| (t, r)))
                .map(|(t, r)| value_of(data, t, r, rest))
                .unwrap_or_default()
        }
    }
}

/// Numbers compare as numbers, everything else as text (timestamps sort as text).
fn compare(a: &str, b: &str) -> Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => a.cmp(b),
    }
}

impl Clause {
    fn holds(&self, data: &Data, table: &str, rec: &Rec) -> bool {
        let actual = value_of(data, table, rec, &self.field);
        let v = self.value.as_str();
        let lower = || actual.to_lowercase();
        match self.op {
            Op::Eq => actual == v,
            Op::Ne => actual != v,
            Op::Gt => compare(&actual, v) == Ordering::Greater,
            Op::Ge => compare(&actual, v) != Ordering::Less,
            Op::Lt => compare(&actual, v) == Ordering::Less,
            Op::Le => compare(&actual, v) != Ordering::Greater,
            Op::Like => lower().contains(&v.to_lowercase()),
            Op::NotLike => !lower().contains(&v.to_lowercase()),
            Op::StartsWith => lower().starts_with(&v.to_lowercase()),
            Op::EndsWith => lower().ends_with(&v.to_lowercase()),
            Op::In => v.split(',').any(|x| x == actual),
            Op::NotIn => !v.split(',').any(|x| x == actual),
            Op::Empty => actual.is_empty(),
            Op::NotEmpty => !actual.is_empty(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_groups_orders_and_carets() {
        let q = Query::parse(
            "sys_updated_on>=2026-01-01 00:00:00^stateIN1,2^ORpriority=1^ORDERBYsys_updated_on^ORDERBYDESCsys_id",
        );
        assert_eq!(q.alternatives.len(), 1);
        let groups = &q.alternatives[0];
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0][0].op, Op::Ge);
        assert_eq!(groups[0][0].value, "2026-01-01 00:00:00");
        assert_eq!(groups[1].len(), 2);
        assert_eq!(groups[1][0].op, Op::In);
        assert_eq!(groups[1][1].field, "priority");
        assert_eq!(
            q.order,
            vec![
                ("sys_updated_on".to_string(), false),
                ("sys_id".to_string(), true)
            ]
        );
        let caret = Query::parse("short_description=a^^b");
        assert_eq!(caret.alternatives[0][0][0].value, "a^b");
        let nq = Query::parse("state=1^NQstate=2");
        assert_eq!(nq.alternatives.len(), 2);
        let like = Query::parse("short_descriptionLIKEvpn^numberSTARTSWITHINC");
        assert_eq!(like.alternatives[0][0][0].op, Op::Like);
        assert_eq!(like.alternatives[0][1][0].op, Op::StartsWith);
    }
}
