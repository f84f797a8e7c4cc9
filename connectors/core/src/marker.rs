//! The bridge's markers: on tickets, in a field the vendor offers for an
//! external reference ([`ticket_marker`]); in comment text, as a trailer.
//!
//! Comments have no free field for an idempotency key on every vendor, so the
//! bridge appends one line `[psa-bridge:<marker>]` to the text it writes. The
//! marker survives vendors that turn newlines into spaces (ConnectWise).
//!
//! Only that exact trailer counts: the marker as the last thing in the text,
//! on a line of its own (or after a space where the vendor flattened the
//! newline). A marker anywhere else — quoted in a customer's e-mail reply
//! (`> [psa-bridge:…]`), or followed by more text — is part of a human's note,
//! which must be mirrored like any other.

const OPEN: &str = "[psa-bridge:";

/// How every ticket marker starts (`psa-bridge:<pairing>:<origin side>:<origin
/// ticket id>`; links made by older versions `psa-bridge:<pairing>:<link id>`).
pub const TICKET_MARKER_PREFIX: &str = "psa-bridge:";

/// The bridge's ticket marker in a field value, if the value is one. The
/// fields the bridge uses (ConnectWise `externalXRef`, ServiceNow
/// `correlation_id`, an Autotask UDF) also hold other integrations' and
/// people's references; those are not the bridge's, and a ticket carrying
/// one must still be able to escalate.
pub fn ticket_marker(value: Option<&str>) -> Option<String> {
    let value = value?.trim();
    (value.len() > TICKET_MARKER_PREFIX.len() && value.starts_with(TICKET_MARKER_PREFIX))
        .then(|| value.to_string())
}

/// Appends the marker line to a comment body.
pub fn embed(body: &str, marker: &str) -> String {
    format!("{}\n{OPEN}{marker}]", body.trim_end())
}

/// Splits a stored text into (body without marker, marker) when the text ends
/// with the bridge's trailer; otherwise returns the text whole and `None`.
pub fn extract(text: &str) -> (String, Option<String>) {
    match trailer(text) {
        Some((start, marker)) => (text[..start].trim_end().to_string(), Some(marker.into())),
        None => (text.to_string(), None),
    }
}

/// Where the trailer starts and its marker, if `text` ends with one.
fn trailer(text: &str) -> Option<(usize, &str)> {
    let trimmed = text.trim_end();
    let start = trimmed.rfind(OPEN)?;
    // Nothing may follow the closing bracket but the vendor's whitespace.
    let marker = trimmed[start + OPEN.len()..].strip_suffix(']')?;
    if marker.is_empty()
        || !marker
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_:.".contains(c))
    {
        return None;
    }
    let before = &text[..start];
    // The marker starts its own line: after a newline, or after the space a
    // vendor put in place of the newline.
    if !(before.is_empty() || before.ends_with(char::is_whitespace)) {
        return None;
    }
    let line = before.trim_end_matches([' ', '\t']);
    if line.is_empty() || line.ends_with(['\n', '\r']) {
        return Some((start, marker));
    }
    // Separated by spaces only (a flattened newline): refuse a quoted line,
    // whose `>` quote prefix stands at the start of a (former) line.
    let quoted = line.strip_suffix('>').is_some_and(|rest| {
        rest.is_empty() || rest.ends_with(char::is_whitespace) || rest.ends_with('>')
    });
    (!quoted).then_some((start, marker))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bridge_references_are_ticket_markers() {
        assert_eq!(
            ticket_marker(Some(" psa-bridge:acme:7 ")).as_deref(),
            Some("psa-bridge:acme:7")
        );
        for other in ["INC0010001", "", "psa-bridge:", "ext psa-bridge:acme:7"] {
            assert_eq!(ticket_marker(Some(other)), None, "{other}");
        }
        assert_eq!(ticket_marker(None), None);
    }

    #[test]
    fn round_trips_and_survives_newline_loss() {
        let text = embed("hello\nworld", "op-42");
        assert_eq!(
            extract(&text),
            ("hello\nworld".into(), Some("op-42".into()))
        );
        let flattened = text.replace('\n', " ");
        assert_eq!(extract(&flattened).1.as_deref(), Some("op-42"));
    }

    #[test]
    fn ignores_text_without_a_valid_marker() {
        assert_eq!(extract("plain").1, None);
        assert_eq!(extract("[psa-bridge:] x").1, None);
        assert_eq!(extract("[psa-bridge:a b]").1, None);
        assert_eq!(extract("[psa-bridge:unterminated").1, None);
    }

    #[test]
    fn trailing_whitespace_after_the_trailer_is_allowed() {
        let text = format!("{} \r\n\n", embed("Fixed.", "op-7"));
        assert_eq!(extract(&text), ("Fixed.".into(), Some("op-7".into())));
        let crlf = "Fixed.\r\n[psa-bridge:op-7]\r\n";
        assert_eq!(extract(crlf), ("Fixed.".into(), Some("op-7".into())));
        assert_eq!(extract("[psa-bridge:op-7]").1.as_deref(), Some("op-7"));
    }

    #[test]
    fn a_quoted_bridge_note_in_a_reply_is_not_the_bridge_own() {
        // An e-mail reply filed as a note, quoting the mirrored note at the end.
        let reply = "Thanks, it works again.\n\nOn Tue, Support wrote:\n> Restarted the VPN concentrator.\n> [psa-bridge:op-42]";
        assert_eq!(extract(reply), (reply.to_string(), None));
        let reply_crlf = "Thanks!\r\n\r\n> Restarted it.\r\n> [psa-bridge:op-42]\r\n";
        assert_eq!(extract(reply_crlf).1, None);
        // Nested quote, and quote prefix without a space.
        assert_eq!(extract("ok\n> > Done.\n> > [psa-bridge:op-42]").1, None);
        assert_eq!(extract("ok\n> Done.\n>[psa-bridge:op-42]").1, None);
        // The same reply after ConnectWise flattened its newlines.
        let flat = reply.replace('\n', " ");
        assert_eq!(extract(&flat).1, None);
    }

    #[test]
    fn a_marker_followed_by_more_text_is_not_a_trailer() {
        // Top-posted reply below a quoted note, or a signature after it.
        let reply = "> Restarted the VPN concentrator.\n> [psa-bridge:op-42]\n\nThanks";
        assert_eq!(extract(reply), (reply.to_string(), None));
        let inline = "Restarted it.\n[psa-bridge:op-42]\nThanks, Bob";
        assert_eq!(extract(inline).1, None);
        assert_eq!(extract("see [psa-bridge:op-42] above").1, None);
        assert_eq!(extract("x[psa-bridge:op-42]").1, None);
    }

    #[test]
    fn a_mirrored_reply_keeps_its_quote_and_yields_its_own_trailer() {
        // The bridge mirrors the customer's quoting reply and appends its own marker.
        let reply = "Thanks.\n> Restarted it.\n> [psa-bridge:op-42]";
        let mirrored = embed(reply, "op-99");
        assert_eq!(extract(&mirrored), (reply.into(), Some("op-99".into())));
        assert_eq!(
            extract(&mirrored.replace('\n', " ")).1.as_deref(),
            Some("op-99")
        );
        // A body that ends with an autolink still carries its trailer when flattened.
        let link = embed("Details: <https://example.com/kb>", "op-5").replace('\n', " ");
        assert_eq!(extract(&link).1.as_deref(), Some("op-5"));
    }
}
