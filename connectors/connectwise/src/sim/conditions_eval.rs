//! Evaluation of a parsed condition against one record (a JSON value per field).

use std::cmp::Ordering;

use serde_json::Value;

use super::{parse_datetime, Expr, Literal, Op};

impl Expr {
    /// Every field name the expression refers to.
    pub fn fields(&self) -> Vec<&str> {
        match self {
            Expr::And(a, b) | Expr::Or(a, b) => {
                let mut v = a.fields();
                v.extend(b.fields());
                v
            }
            Expr::Not(e) => e.fields(),
            Expr::Compare { field, .. } | Expr::In { field, .. } => vec![field.as_str()],
        }
    }

    /// Evaluates against a record; `lookup` gives a field's value (Null when absent).
    pub fn matches(&self, lookup: &dyn Fn(&str) -> Value) -> bool {
        match self {
            Expr::And(a, b) => a.matches(lookup) && b.matches(lookup),
            Expr::Or(a, b) => a.matches(lookup) || b.matches(lookup),
            Expr::Not(e) => !e.matches(lookup),
            Expr::In { field, values } => {
                let actual = lookup(field);
                values.iter().any(|v| compare(&actual, Op::Eq, v))
            }
            Expr::Compare { field, op, value } => compare(&lookup(field), *op, value),
        }
    }
}

fn like(text: &str, pattern: &str) -> bool {
    let parts: Vec<&str> = pattern.split(['*', '%']).collect();
    if parts.len() == 1 {
        return text == pattern;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else if let Some(at) = rest.find(part) {
            rest = &rest[at + part.len()..];
        } else {
            return false;
        }
    }
    true
}

fn ordered(ord: Option<Ordering>, op: Op) -> bool {
    let Some(ord) = ord else { return false };
    match op {
        Op::Eq => ord == Ordering::Equal,
        Op::Ne => ord != Ordering::Equal,
        Op::Lt => ord == Ordering::Less,
        Op::Le => ord != Ordering::Greater,
        Op::Gt => ord == Ordering::Greater,
        Op::Ge => ord != Ordering::Less,
        Op::Contains | Op::Like => false,
    }
}

fn compare(actual: &Value, op: Op, expected: &Literal) -> bool {
    match expected {
        Literal::Null => match op {
            Op::Eq => actual.is_null(),
            Op::Ne => !actual.is_null(),
            _ => false,
        },
        _ if actual.is_null() => op == Op::Ne,
        Literal::Str(s) => {
            let text = match actual {
                Value::String(t) => t.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return false,
            };
            let (a, e) = (text.to_lowercase(), s.to_lowercase());
            match op {
                Op::Contains => a.contains(&e),
                Op::Like => like(&a, &e),
                _ => ordered(Some(a.cmp(&e)), op),
            }
        }
        Literal::Date(d) => {
            let Some(a) = actual.as_str().and_then(parse_datetime) else {
                return false;
            };
            ordered(Some(a.cmp(d)), op)
        }
        Literal::Num(n) => match actual.as_f64() {
            Some(a) => ordered(a.partial_cmp(n), op),
            None => false,
        },
        Literal::Bool(b) => match actual.as_bool() {
            Some(a) => ordered(Some(a.cmp(b)), op),
            None => false,
        },
    }
}
