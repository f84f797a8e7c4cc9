//! The subset of JQL the simulator understands: clauses `field op value`
//! (`project`, `key`, `id`, `status`, `priority`, `resolution`, `labels`,
//! `summary ~`, `updated`/`created` with `yyyy/MM/dd HH:mm` dates in the
//! site's time zone, `issue.property[KEY].path`), `AND`, `OR`, `NOT`,
//! parentheses and `ORDER BY field [ASC|DESC]`. Anything else is a 400 with
//! Jira's wording, so a connector that sends more than this learns it here.

pub(crate) use super::jql_eval::sort;
use super::state::SITE_TIME_ZONE;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Op(String),
    Open,
    Close,
    Comma,
}

#[derive(Clone, Debug)]
pub(crate) enum Expr {
    Clause {
        field: String,
        op: String,
        values: Vec<String>,
    },
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
}

#[derive(Clone, Debug)]
pub(crate) struct Query {
    pub filter: Option<Expr>,
    pub order: Vec<(String, bool)>,
}

fn lex(text: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::Open);
                i += 1
            }
            ')' => {
                out.push(Tok::Close);
                i += 1
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            '"' | '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("The quoted string is not terminated.".into()),
                        Some('\\') => {
                            if let Some(n) = chars.get(i + 1) {
                                s.push(*n);
                            }
                            i += 2;
                        }
                        Some(q) if *q == c => {
                            i += 1;
                            break;
                        }
                        Some(x) => {
                            s.push(*x);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(s));
            }
            '=' | '!' | '<' | '>' | '~' => {
                let mut op = c.to_string();
                if let Some(n @ ('=' | '~')) = chars.get(i + 1) {
                    op.push(*n);
                    i += 1;
                }
                i += 1;
                out.push(Tok::Op(op));
            }
            _ => {
                let mut s = String::new();
                let mut depth = 0;
                while let Some(&x) = chars.get(i) {
                    if x == '[' {
                        depth += 1;
                    } else if x == ']' {
                        depth -= 1;
                    } else if depth == 0 && (x.is_whitespace() || "()=,!<>~\"'".contains(x)) {
                        break;
                    }
                    s.push(x);
                    i += 1;
                }
                out.push(Tok::Word(s));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.peek_word("OR") {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while self.peek_word("AND") {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }
    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek_word("NOT") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.toks.get(self.pos) == Some(&Tok::Open) {
            self.pos += 1;
            let e = self.or()?;
            if self.next() != Some(Tok::Close) {
                return Err("Expecting ')' in the JQL query.".into());
            }
            return Ok(e);
        }
        let field = match self.next() {
            Some(Tok::Word(w)) => w,
            Some(Tok::Str(s)) => s,
            other => return Err(format!("Expecting a field name but got {other:?}.")),
        };
        let op = match self.next() {
            Some(Tok::Op(op)) => op,
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("in") => "in".into(),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("is") => {
                if self.peek_word("NOT") {
                    self.pos += 1;
                    "!=".into()
                } else {
                    "=".into()
                }
            }
            other => {
                return Err(format!(
                    "Expecting operator but got {other:?} after '{field}'."
                ))
            }
        };
        let mut values = Vec::new();
        if op == "in" {
            if self.next() != Some(Tok::Open) {
                return Err("Expecting '(' after 'in'.".into());
            }
            loop {
                match self.next() {
                    Some(Tok::Word(w)) | Some(Tok::Str(w)) => values.push(w),
                    other => return Err(format!("Expecting a value but got {other:?}.")),
                }
                match self.next() {
                    Some(Tok::Comma) => continue,
                    Some(Tok::Close) => break,
                    other => return Err(format!("Expecting ',' or ')' but got {other:?}.")),
                }
            }
        } else {
            match self.next() {
                Some(Tok::Word(w)) | Some(Tok::Str(w)) => values.push(w),
                other => {
                    return Err(format!(
                        "Expecting either a value, list or function but got {other:?}."
                    ))
                }
            }
        }
        Ok(Expr::Clause { field, op, values })
    }
}

/// Parses a JQL query.
pub(crate) fn parse(text: &str) -> Result<Query, String> {
    let toks = lex(text)?;
    let mut p = Parser { toks, pos: 0 };
    let filter = if p.toks.is_empty() || p.peek_word("ORDER") {
        None
    } else {
        Some(p.or()?)
    };
    let mut order = Vec::new();
    if p.peek_word("ORDER") {
        p.pos += 1;
        if !p.peek_word("BY") {
            return Err("Expecting 'BY' after 'ORDER'.".into());
        }
        p.pos += 1;
        loop {
            let Some(Tok::Word(field)) = p.next() else {
                return Err("Expecting a field name after 'ORDER BY'.".into());
            };
            let mut asc = true;
            if p.peek_word("DESC") {
                asc = false;
                p.pos += 1;
            } else if p.peek_word("ASC") {
                p.pos += 1;
            }
            order.push((field.to_ascii_lowercase(), asc));
            if p.toks.get(p.pos) == Some(&Tok::Comma) {
                p.pos += 1;
                continue;
            }
            break;
        }
    }
    if p.pos < p.toks.len() {
        return Err(format!(
            "Error in the JQL Query: unexpected {:?} at token {}.",
            p.toks[p.pos],
            p.pos + 1
        ));
    }
    Ok(Query { filter, order })
}

/// A JQL date (`yyyy/MM/dd HH:mm`, `yyyy-MM-dd HH:mm`, or a day) in the
/// site's time zone, or epoch milliseconds.
pub(crate) fn parse_date(value: &str) -> Option<DateTime<Utc>> {
    let tz: chrono_tz::Tz = SITE_TIME_ZONE.parse().ok()?;
    let v = value.trim();
    if let Ok(ms) = v.parse::<i64>() {
        return DateTime::from_timestamp_millis(ms);
    }
    let naive = ["%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
        .or_else(|| {
            ["%Y/%m/%d", "%Y-%m-%d"]
                .iter()
                .find_map(|f| NaiveDate::parse_from_str(v, f).ok())
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|d| d.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_connectors_queries() {
        let q = parse(
            r#"project = HELP AND updated >= "2026/01/18 23:45" ORDER BY updated ASC, key ASC"#,
        )
        .unwrap();
        assert!(q.filter.is_some());
        assert_eq!(
            q.order,
            vec![("updated".into(), true), ("key".into(), true)]
        );
        assert!(parse(r#"issue.property[psa-bridge].marker = "m-1""#).is_ok());
        assert!(parse("ORDER BY created DESC").unwrap().filter.is_none());
        assert!(parse("project = ").is_err());
        assert!(parse("project = X garbage").is_err());
        assert!(parse("(project = X").is_err());
    }

    #[test]
    fn dates_are_in_the_sites_zone() {
        // Berlin is UTC+1 in January.
        assert_eq!(
            parse_date("2026/01/18 23:45").unwrap().to_rfc3339(),
            "2026-01-18T22:45:00+00:00"
        );
        assert!(parse_date("yesterday").is_none());
    }
}
