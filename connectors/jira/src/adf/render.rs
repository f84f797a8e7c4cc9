//! ADF → plain text. Blocks are separated by a blank line, list items get
//! `- ` or `N. ` (nested lists indented), code blocks are fenced with
//! three backticks, quotes get `> `, table cells are joined with ` | `.

use serde_json::Value;

use super::{AdfError, MAX_DEPTH, MAX_NODES};

/// The readable text of an ADF document (or of any ADF node).
pub fn to_text(doc: &Value) -> Result<String, AdfError> {
    if !doc.is_object() {
        return Err(AdfError::NotAdf(format!(
            "expected an object, got {}",
            kind(doc)
        )));
    }
    let mut r = Renderer { nodes: 0 };
    let text = r.block(doc, 0)?;
    Ok(text)
}

/// [`to_text`], or when the document is too deep or too large to render,
/// every text it holds ([`flat_text`]): text is never lost.
pub fn to_text_or_flat(doc: &Value) -> String {
    match to_text(doc) {
        Ok(text) => text,
        Err(e) => {
            tracing::warn!(error = %e, "ADF rendered as flat text");
            flat_text(doc)
        }
    }
}

/// Every `text` and inline atom of a document in order, one block per
/// line, walked without recursion (any depth, any size).
pub fn flat_text(doc: &Value) -> String {
    let mut out = String::new();
    let mut stack = vec![doc];
    while let Some(node) = stack.pop() {
        if let Some(s) = node.as_str() {
            out.push_str(s);
            continue;
        }
        if let Some(t) = inline_atom(node) {
            out.push_str(&t);
        } else if is_block(node) && !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        if let Some(children) = node.get("content").and_then(Value::as_array) {
            stack.extend(children.iter().rev());
        }
    }
    out
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn node_type(node: &Value) -> &str {
    node.get("type").and_then(Value::as_str).unwrap_or("")
}

fn attr<'a>(node: &'a Value, name: &str) -> Option<&'a str> {
    node.get("attrs")?
        .get(name)?
        .as_str()
        .filter(|s| !s.is_empty())
}

fn is_block(node: &Value) -> bool {
    !matches!(
        node_type(node),
        "text" | "hardBreak" | "mention" | "emoji" | "inlineCard" | "date" | "status"
    ) && node.get("text").is_none()
}

/// The text of a leaf inline node, if `node` is one.
fn inline_atom(node: &Value) -> Option<String> {
    match node_type(node) {
        "text" => {
            let text = node.get("text").and_then(Value::as_str).unwrap_or("");
            let href = node
                .get("marks")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|m| node_type(m) == "link")
                .and_then(|m| attr(m, "href"));
            Some(match href {
                Some(href) if href != text && !text.is_empty() => format!("{text} ({href})"),
                Some(href) if text.is_empty() => href.to_string(),
                _ => text.to_string(),
            })
        }
        "hardBreak" => Some("\n".into()),
        "mention" => Some(
            attr(node, "text")
                .map(str::to_string)
                .or_else(|| attr(node, "id").map(|id| format!("@{id}")))
                .unwrap_or_else(|| "@someone".into()),
        ),
        "emoji" => Some(
            attr(node, "text")
                .or_else(|| attr(node, "shortName"))
                .unwrap_or("")
                .to_string(),
        ),
        "inlineCard" | "blockCard" | "embedCard" => Some(attr(node, "url").unwrap_or("").into()),
        "status" => Some(
            attr(node, "text")
                .map(|t| format!("[{t}]"))
                .unwrap_or_default(),
        ),
        "date" => Some(
            attr(node, "timestamp")
                .and_then(|ms| ms.parse::<i64>().ok())
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
        ),
        _ => None,
    }
}

struct Renderer {
    nodes: usize,
}

impl Renderer {
    fn visit(&mut self, depth: usize) -> Result<(), AdfError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(AdfError::TooLarge);
        }
        if depth > MAX_DEPTH {
            return Err(AdfError::TooDeep);
        }
        Ok(())
    }

    fn children<'a>(&self, node: &'a Value) -> &'a [Value] {
        node.get("content")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Inline content of a paragraph-like node, concatenated.
    fn inline(&mut self, node: &Value, depth: usize) -> Result<String, AdfError> {
        self.visit(depth)?;
        if let Some(t) = inline_atom(node) {
            return Ok(t);
        }
        let mut out = String::new();
        for child in self.children(node) {
            if is_block(child) {
                out.push_str(&self.block(child, depth + 1)?);
            } else {
                out.push_str(&self.inline(child, depth + 1)?);
            }
        }
        Ok(out)
    }

    /// Block children, separated by `sep`.
    fn blocks(&mut self, node: &Value, depth: usize, sep: &str) -> Result<String, AdfError> {
        let mut parts = Vec::new();
        let mut run = String::new();
        for child in self.children(node) {
            if is_block(child) {
                if !run.is_empty() {
                    parts.push(std::mem::take(&mut run));
                }
                parts.push(self.block(child, depth + 1)?);
            } else {
                run.push_str(&self.inline(child, depth + 1)?);
            }
        }
        if !run.is_empty() {
            parts.push(run);
        }
        Ok(parts.join(sep))
    }

    fn block(&mut self, node: &Value, depth: usize) -> Result<String, AdfError> {
        self.visit(depth)?;
        if let Some(t) = inline_atom(node) {
            return Ok(t);
        }
        Ok(match node_type(node) {
            "doc" | "panel" | "expand" | "nestedExpand" | "layoutSection" | "layoutColumn"
            | "bodiedExtension" => self.blocks(node, depth, "\n\n")?,
            "paragraph" | "heading" => self.inline(node, depth)?,
            "codeBlock" => format!("```\n{}\n```", self.inline(node, depth)?),
            "blockquote" => prefix_lines(&self.blocks(node, depth, "\n\n")?, "> ", "> "),
            "rule" => "---".into(),
            "bulletList" => self.list(node, depth, |_| "- ".into())?,
            "orderedList" => {
                let start = node
                    .get("attrs")
                    .and_then(|a| a.get("order"))
                    .and_then(Value::as_i64)
                    .unwrap_or(1);
                self.list(node, depth, move |i| format!("{}. ", start + i as i64))?
            }
            "taskList" => self.list(node, depth, |_| "- ".into())?,
            "table" => {
                let mut rows = Vec::new();
                for row in self.children(node) {
                    self.visit(depth + 1)?;
                    let mut cells = Vec::new();
                    for cell in self.children(row) {
                        cells.push(self.blocks(cell, depth + 2, " ")?.replace('\n', " "));
                    }
                    rows.push(cells.join(" | "));
                }
                rows.join("\n")
            }
            "mediaSingle" | "mediaGroup" | "media" => {
                let names: Vec<String> = std::iter::once(node)
                    .chain(self.children(node))
                    .filter_map(|m| attr(m, "alt").or_else(|| attr(m, "filename")))
                    .map(|n| format!("[attachment: {n}]"))
                    .collect();
                names.join("\n")
            }
            // Unknown nodes: whatever text they hold.
            _ => {
                let inner = self.blocks(node, depth, "\n\n")?;
                match (inner.is_empty(), attr(node, "text")) {
                    (true, Some(t)) => t.to_string(),
                    _ => inner,
                }
            }
        })
    }

    /// A list, one marker per item; an item's further blocks and nested
    /// lists are indented under it.
    fn list(
        &mut self,
        node: &Value,
        depth: usize,
        marker: impl Fn(usize) -> String,
    ) -> Result<String, AdfError> {
        let mut lines = Vec::new();
        for (i, item) in self.children(node).iter().enumerate() {
            self.visit(depth + 1)?;
            let text =
                if is_block(item) && node_type(item) != "listItem" && node_type(item) != "taskItem"
                {
                    self.block(item, depth + 1)?
                } else {
                    self.blocks(item, depth + 1, "\n")?
                };
            let m = marker(i);
            let indent = " ".repeat(m.chars().count());
            lines.push(prefix_lines(&text, &m, &indent));
        }
        Ok(lines.join("\n"))
    }
}

/// `first` before the first line, `rest` before every further line.
fn prefix_lines(text: &str, first: &str, rest: &str) -> String {
    text.split('\n')
        .enumerate()
        .map(|(i, line)| {
            let p = if i == 0 { first } else { rest };
            if line.is_empty() && i > 0 {
                p.trim_end().to_string()
            } else {
                format!("{p}{line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
