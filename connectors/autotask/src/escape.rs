//! Autotask's webhook JSON escaping.
//!
//! Autotask serialises webhook bodies with `& < > ' " \`, `+`, control
//! characters and every non-ASCII character escaped as `\uXXXX` inside
//! strings (UTF-16 code units, so characters outside the BMP become surrogate
//! pairs). The signature covers exactly those bytes, so the simulator must
//! produce them and verifiers must never re-serialise.

use serde_json::Value;

/// Serialises `value` compactly with Autotask's string escaping.
pub fn to_autotask_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_value(out, v);
            }
            out.push('}');
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        let escape = matches!(c, '&' | '<' | '>' | '\'' | '"' | '\\' | '+')
            || !c.is_ascii()
            || c.is_ascii_control();
        if escape {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escapes_the_autotask_set() {
        let s = to_autotask_json(&json!({"T": "a&b<c>d'e\"f\\g+h"}));
        assert_eq!(
            s,
            r#"{"T":"a\u0026b\u003cc\u003ed\u0027e\u0022f\u005cg\u002bh"}"#
        );
    }

    #[test]
    fn escapes_non_ascii_and_controls_as_utf16() {
        let s = to_autotask_json(&json!(["é", "😀", "line\nbreak"]));
        assert_eq!(s, r#"["\u00e9","\ud83d\ude00","line\u000abreak"]"#);
    }

    #[test]
    fn round_trips_through_serde() {
        let v = json!({"Action": "Update", "Id": 351181, "Fields": {"Title": "Ünïcødé & <tags> + \"quotes\" 😀"}, "Ok": true, "N": null, "F": 1.5});
        let text = to_autotask_json(&v);
        assert!(text.is_ascii());
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
    }
}
