//! Unit tests for the conditions parser and evaluator.

use super::*;
use serde_json::{json, Value};

fn ticket() -> Value {
    json!({
        "id": 1042,
        "summary": "VPN down at \"site B\"",
        "board": {"id": 1, "name": "Co-Managed"},
        "status": {"id": 2, "name": "In Progress"},
        "closedFlag": false,
        "externalXRef": "op-42",
        "owner": null,
        "_info": {"lastUpdated": "2026-01-02T10:00:00Z"}
    })
}

fn check(cond: &str) -> bool {
    let t = ticket();
    let expr = parse(cond).unwrap_or_else(|e| panic!("{cond}: {e}"));
    expr.matches(&|field: &str| {
        let path = if field.eq_ignore_ascii_case("lastUpdated") {
            "/_info/lastUpdated".to_string()
        } else {
            format!("/{field}")
        };
        t.pointer(&path).cloned().unwrap_or(Value::Null)
    })
}

#[test]
fn comparisons() {
    assert!(check("id = 1042"));
    assert!(check("id >= 1000 and id < 2000"));
    assert!(!check("id != 1042"));
    assert!(check("board/name=\"Co-Managed\""));
    assert!(
        check("board/name = \"co-managed\""),
        "strings compare case-insensitively"
    );
    assert!(check("status/id in (1, 2, 3)"));
    assert!(check("status/id not in (4,5)"));
    assert!(check("closedFlag = false"));
    assert!(check("owner = null"));
    assert!(!check("owner != null"));
    assert!(check("externalXRef <> \"other\""));
}

#[test]
fn datetimes() {
    assert!(check("lastUpdated >= [2026-01-02T10:00:00Z]"));
    assert!(!check("lastUpdated > [2026-01-02T10:00:00Z]"));
    assert!(check("_info/lastUpdated < [2026-01-03T00:00:00]"));
}

#[test]
fn strings_with_escapes_and_patterns() {
    assert!(check(r#"summary = "VPN down at \"site B\"""#));
    assert!(check("summary contains \"site\""));
    assert!(check("summary like \"VPN*B*\""));
    assert!(!check("summary like \"printer*\""));
    assert!(check("summary not like \"printer*\""));
    assert!(check("summary not contains \"printer\""));
}

#[test]
fn boolean_logic_and_precedence() {
    assert!(check("id = 1 OR id = 1042 AND closedFlag = false"));
    assert!(!check("(id = 1 OR id = 1042) AND closedFlag = true"));
    assert!(check("NOT (id = 1)"));
    assert!(check(
        "board/name=\"Co-Managed\" AND (status/name=\"New\" OR status/name=\"In Progress\")"
    ));
}

#[test]
fn fields_listed() {
    let e = parse("a = 1 and (b/c = \"x\" or not d in (1))").unwrap();
    assert_eq!(e.fields(), vec!["a", "b/c", "d"]);
}

#[test]
fn syntax_errors() {
    for bad in [
        "",
        "id =",
        "id 5",
        "(id = 5",
        "summary = \"open",
        "lastUpdated > [2026-13-45]",
        "id = 5 garbage",
        "id in 5",
        "id = 5 AND",
        "= 5",
        "id ~ 5",
    ] {
        assert!(parse(bad).is_err(), "{bad:?} should not parse");
    }
}
