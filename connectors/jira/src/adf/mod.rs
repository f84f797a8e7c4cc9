//! Atlassian Document Format (ADF), the rich text of Jira REST v3
//! descriptions and comments, converted both ways without losing text.
//!
//! * [`to_text`]: ADF → readable plain text (paragraphs, hard breaks,
//!   headings, lists, code blocks, quotes, tables, links with their URL,
//!   mentions as the person's name, emoji, and the text of unknown nodes).
//!   Nesting is bounded ([`MAX_DEPTH`]): a hostile document is an error, never
//!   a stack overflow; [`to_text_or_flat`] then keeps every text node instead.
//! * [`from_text`]: plain text → valid ADF (a paragraph per blank-line
//!   separated block, `hardBreak` per single newline). `to_text(from_text(s))
//!   == s` byte for byte.
//!
//! Written here rather than taken from crates.io: the registry's search was
//! not reachable from the build machine, and the subset needed (read any
//! document as text, write paragraphs) is small and fully tested below.

mod render;

pub use render::{flat_text, to_text, to_text_or_flat};

use serde_json::{json, Value};

/// Deepest node nesting [`to_text`] follows (JSON nesting is twice this,
/// under serde_json's own limit of 128 for a whole issue).
pub const MAX_DEPTH: usize = 48;
/// Most nodes [`to_text`] visits in one document.
pub const MAX_NODES: usize = 200_000;

/// Why a document could not be read as ADF.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdfError {
    #[error("ADF document nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("ADF document has more than {MAX_NODES} nodes")]
    TooLarge,
    #[error("not an ADF document: {0}")]
    NotAdf(String),
}

/// A valid ADF document holding `text`: blocks separated by a blank line
/// become paragraphs, single newlines `hardBreak`s.
pub fn from_text(text: &str) -> Value {
    if text.is_empty() {
        return json!({"type": "doc", "version": 1, "content": []});
    }
    let content: Vec<Value> = text
        .split("\n\n")
        .map(|block| {
            let mut inline = Vec::new();
            for (i, line) in block.split('\n').enumerate() {
                if i > 0 {
                    inline.push(json!({"type": "hardBreak"}));
                }
                if !line.is_empty() {
                    inline.push(json!({"type": "text", "text": line}));
                }
            }
            if inline.is_empty() {
                json!({"type": "paragraph"})
            } else {
                json!({"type": "paragraph", "content": inline})
            }
        })
        .collect();
    json!({"type": "doc", "version": 1, "content": content})
}

/// Whether `value` looks like an ADF document (`type: doc`).
pub fn is_doc(value: &Value) -> bool {
    value.get("type").and_then(Value::as_str) == Some("doc")
}

#[cfg(test)]
mod tests;
