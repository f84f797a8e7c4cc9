//! Key layouts of the index trees.

use super::Side;

/// `link_index`: pairing, side and ticket id → link id.
pub fn link_key(pairing: &str, side: Side, ticket_id: &str) -> Vec<u8> {
    format!("t\0{pairing}\0{side}\0{ticket_id}").into_bytes()
}

/// `comments`: link, side and comment id → what the bridge did with it.
pub fn comment_key(link: u64, side: Side, comment_id: &str) -> Vec<u8> {
    let mut key = link.to_be_bytes().to_vec();
    key.extend_from_slice(format!("\0{side}\0{comment_id}").as_bytes());
    key
}

/// `versions`: connection and ticket id.
pub fn ticket_key(connection: &str, ticket_id: &str) -> Vec<u8> {
    format!("{connection}\0{ticket_id}").into_bytes()
}

/// `replans`: link id then op id, so one link's entries share a prefix.
pub fn replan_key(link: u64, op: u64) -> Vec<u8> {
    let mut key = link.to_be_bytes().to_vec();
    key.extend_from_slice(&op.to_be_bytes());
    key
}
