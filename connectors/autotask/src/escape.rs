//! Autotask's webhook JSON escaping.
//!
//! Autotask serialises webhook bodies with `& < > ' " \`, `+`, control
//! characters and every non-ASCII character escaped as `\uXXXX` inside
//! strings (UTF-16 code units, so characters outside the BMP become surrogate
//! pairs). The signature covers exactly those bytes, so the simulator must
//! produce them and verifiers check the raw bytes first; [`reescape`] rebuilds
//! them from a body whose strings arrived decoded.

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
    let mut units = [0u16; 2];
    for c in s.chars() {
        for unit in c.encode_utf16(&mut units) {
            write_unit(out, *unit, false);
        }
    }
    out.push('"');
}

/// Writes one UTF-16 code unit of a string's content, escaped as Autotask
/// does (`upper`: upper-case hex digits).
fn write_unit(out: &mut String, unit: u16, upper: bool) {
    let plain = char::from_u32(u32::from(unit))
        .filter(|c| c.is_ascii() && !c.is_ascii_control())
        .filter(|c| !matches!(c, '&' | '<' | '>' | '\'' | '"' | '\\' | '+'));
    match plain {
        Some(c) => out.push(c),
        None if upper => out.push_str(&format!("\\u{unit:04X}")),
        None => out.push_str(&format!("\\u{unit:04x}")),
    }
}

/// Re-escapes the strings of a JSON text the way Autotask serialises them,
/// leaving every byte outside strings as it is. A body that reached us with
/// its strings decoded (raw UTF-8, `\"` instead of `\u0022`: a proxy that
/// re-encoded it) gets back the bytes Autotask signed. `None` when `raw` is
/// not UTF-8 or a string in it is malformed.
pub fn reescape(raw: &[u8], upper: bool) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(raw).ok()?;
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            out.push(c);
            continue;
        }
        out.push('"');
        loop {
            let c = chars.next()?;
            let unit: u16 = match c {
                '"' => break,
                '\\' => match chars.next()? {
                    '"' => 0x22,
                    '\\' => 0x5c,
                    '/' => 0x2f,
                    'b' => 0x08,
                    'f' => 0x0c,
                    'n' => 0x0a,
                    'r' => 0x0d,
                    't' => 0x09,
                    'u' => {
                        let hex: String = chars.by_ref().take(4).collect();
                        if hex.len() != 4 || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                            return None;
                        }
                        u16::from_str_radix(&hex, 16).ok()?
                    }
                    _ => return None,
                },
                c => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        write_unit(&mut out, *unit, upper);
                    }
                    continue;
                }
            };
            write_unit(&mut out, unit, upper);
        }
        out.push('"');
    }
    Some(out.into_bytes())
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
    fn reescape_restores_the_signed_bytes() {
        let v =
            json!({"Fields": {"Title": "Müller & Söhne <VPN> + 'q' \"x\" \\ 😀 a/b\n"}, "Id": 7});
        let autotask = to_autotask_json(&v);
        // Decoded strings (serde's own escaping) come back byte for byte.
        let plain = serde_json::to_vec(&v).unwrap();
        assert_eq!(reescape(&plain, false).unwrap(), autotask.as_bytes());
        // Already escaped text is unchanged; upper-case hex is produced on request.
        assert_eq!(
            reescape(autotask.as_bytes(), false).unwrap(),
            autotask.as_bytes()
        );
        let upper = String::from_utf8(reescape(&plain, true).unwrap()).unwrap();
        assert!(
            upper.contains("\\u00FC") && upper.contains("\\uD83D\\uDE00"),
            "{upper}"
        );
        assert_eq!(
            reescape(upper.as_bytes(), false).unwrap(),
            autotask.as_bytes()
        );
        // Outside strings nothing moves; broken strings give None.
        assert_eq!(reescape(b"{ \"a\" : 1 }", false).unwrap(), b"{ \"a\" : 1 }");
        assert!(reescape(b"{\"a", false).is_none());
        assert!(reescape(b"{\"a\\u12\"}", false).is_none());
        assert!(reescape(&[0xff, 0xfe], false).is_none());
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
