//! ADF conversion tests: byte-exact round trips, rich documents read as
//! text, hostile documents refused without a stack overflow.

use serde_json::{json, Value};

use super::*;

fn text(t: &str) -> Value {
    json!({"type": "text", "text": t})
}
fn para(content: Vec<Value>) -> Value {
    json!({"type": "paragraph", "content": content})
}
fn doc(content: Vec<Value>) -> Value {
    json!({"type": "doc", "version": 1, "content": content})
}

#[test]
fn plain_text_round_trips_byte_for_byte() {
    let samples = [
        "",
        "Hello",
        "line one\nline two",
        "para one\n\npara two",
        "a\n\n\nb",
        "a\n\n\n\nb",
        "\n",
        "\n\n",
        "trailing\n",
        "\nleading",
        "  spaced  \n\t tab",
        "windows\r\nline\r\n\r\nends",
        "ünïcødé 😀\n> quoted\n- not a list",
        "```\ncode\n```",
    ];
    for s in samples {
        let adf = from_text(s);
        assert!(is_doc(&adf));
        assert_eq!(to_text(&adf).unwrap(), s, "{s:?} → {adf}");
    }
}

#[test]
fn generated_text_round_trips() {
    // A small deterministic generator over an alphabet rich in separators.
    let alphabet = ['a', 'b', ' ', '\n', '\n', '\t', 'é', '\r', '-', '>'];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..2000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % 24) as usize;
        let s: String = (0..len)
            .map(|i| alphabet[((seed >> (i % 60)) as usize + i) % alphabet.len()])
            .collect();
        assert_eq!(to_text(&from_text(&s)).unwrap(), s, "{s:?}");
    }
}

#[test]
fn text_becomes_valid_adf() {
    let adf = from_text("one\ntwo\n\nthree");
    assert_eq!(
        adf,
        doc(vec![
            para(vec![text("one"), json!({"type": "hardBreak"}), text("two")]),
            para(vec![text("three")]),
        ])
    );
    // No empty text nodes anywhere (Jira refuses them).
    let adf = from_text("\n\nx\n");
    assert!(!adf.to_string().contains(r#""text":"""#), "{adf}");
}

#[test]
fn rich_documents_read_as_text() {
    let rich = doc(vec![
        json!({"type": "heading", "attrs": {"level": 2}, "content": [text("VPN down")]}),
        para(vec![
            text("Hi "),
            json!({"type": "mention", "attrs": {"id": "5b10ac8d82e05b22cc7d4ef5", "text": "@Jane Doe"}}),
            text(", see "),
            json!({"type": "text", "text": "the runbook", "marks": [{"type": "link", "attrs": {"href": "https://wiki.example/vpn"}}]}),
            text(" and "),
            json!({"type": "text", "text": "https://status.example", "marks": [{"type": "link", "attrs": {"href": "https://status.example"}}]}),
            text(" "),
            json!({"type": "emoji", "attrs": {"shortName": ":fire:", "text": "🔥"}}),
            json!({"type": "emoji", "attrs": {"shortName": ":custom:"}}),
        ]),
        json!({"type": "bulletList", "content": [
            {"type": "listItem", "content": [para(vec![text("Site B")]),
                {"type": "orderedList", "attrs": {"order": 3}, "content": [
                    {"type": "listItem", "content": [para(vec![text("router")])]},
                    {"type": "listItem", "content": [para(vec![text("switch")])]}
                ]}
            ]},
            {"type": "listItem", "content": [para(vec![text("HQ")])]}
        ]}),
        json!({"type": "codeBlock", "attrs": {"language": "sh"}, "content": [text("ping 10.0.0.1\ntraceroute hq")]}),
        json!({"type": "blockquote", "content": [para(vec![text("quoted")])]}),
        json!({"type": "rule"}),
        json!({"type": "decisionList", "content": [{"type": "decisionItem", "content": [text("unknown but kept")]}]}),
        json!({"type": "table", "content": [
            {"type": "tableRow", "content": [
                {"type": "tableHeader", "content": [para(vec![text("Host")])]},
                {"type": "tableHeader", "content": [para(vec![text("State")])]}
            ]},
            {"type": "tableRow", "content": [
                {"type": "tableCell", "content": [para(vec![text("vpn1")])]},
                {"type": "tableCell", "content": [para(vec![json!({"type": "status", "attrs": {"text": "DOWN", "color": "red"}})])]}
            ]}
        ]}),
    ]);
    let out = to_text(&rich).unwrap();
    let expected = "VPN down\n\n\
Hi @Jane Doe, see the runbook (https://wiki.example/vpn) and https://status.example 🔥:custom:\n\n\
- Site B\n  3. router\n  4. switch\n- HQ\n\n\
```\nping 10.0.0.1\ntraceroute hq\n```\n\n\
> quoted\n\n\
---\n\n\
unknown but kept\n\n\
Host | State\nvpn1 | [DOWN]";
    assert_eq!(out, expected);
}

#[test]
fn not_a_document_is_a_clear_error() {
    assert!(matches!(to_text(&json!("x")), Err(AdfError::NotAdf(_))));
    assert!(matches!(to_text(&json!(null)), Err(AdfError::NotAdf(_))));
    // Garbage inside an object is skipped, not a panic.
    let odd = json!({"type": "doc", "content": [1, "two", null, {"content": 5}, {"type": "text", "text": 7}]});
    assert!(to_text(&odd).is_ok());
}

fn nested(depth: usize) -> Value {
    // Built by moving values (json! would serialise, i.e. recurse, its arguments).
    let mut node = text("deep text");
    for _ in 0..depth {
        let mut map = serde_json::Map::new();
        map.insert("type".into(), Value::from("blockquote"));
        map.insert("content".into(), Value::Array(vec![node]));
        node = Value::Object(map);
    }
    let mut map = serde_json::Map::new();
    map.insert("type".into(), Value::from("doc"));
    map.insert("content".into(), Value::Array(vec![node]));
    Value::Object(map)
}

#[test]
fn hostile_depth_is_an_error_and_flat_text_keeps_the_text() {
    // Built without serde's recursion limit: a Value this deep is possible in memory.
    let deep = nested(10_000);
    assert_eq!(to_text(&deep), Err(AdfError::TooDeep));
    assert_eq!(to_text_or_flat(&deep), "deep text");
    // Dropping a deep Value recursively would itself overflow: forget it.
    std::mem::forget(deep);
    assert!(to_text(&nested(MAX_DEPTH - 2)).is_ok());
}

#[test]
fn oversized_documents_are_refused() {
    let many: Vec<Value> = (0..MAX_NODES).map(|_| para(vec![text("x")])).collect();
    let big = doc(many);
    assert_eq!(to_text(&big), Err(AdfError::TooLarge));
    assert_eq!(to_text_or_flat(&big).len(), 2 * MAX_NODES - 1);
}
