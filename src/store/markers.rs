//! The bridge's markers for one link, derived from vendor data alone: the
//! far ticket's marker (from the source ticket), the markers of mirrored
//! notes (from the ticket marker and the source note) and of the bridge's
//! own close and description notes. A store that lost recent knowledge (a
//! restored backup, a lost link) recognises by them what it wrote. Links
//! made before the marker was stored keep their link-id markers.

use super::records::{Link, Side};

impl Link {
    /// The idempotency marker of the far-side ticket this link creates: the
    /// stored one, or for links made before markers were stored,
    /// `psa-bridge:<pairing>:<link id>`.
    pub fn marker(&self) -> String {
        match &self.marker {
            Some(marker) => marker.clone(),
            None => format!(
                "{}{}:{}",
                psa_connector::marker::TICKET_MARKER_PREFIX,
                self.pairing,
                self.id
            ),
        }
    }

    /// The marker of the mirror of note `comment_id` of `side`: for links
    /// with a stored marker `<pairing>:<origin side>:<origin id>:<side>:<note
    /// id>` (the ticket marker without its prefix, then the note), which
    /// names the same note after a restore or a re-found link; for older
    /// links `<pairing>:<link id>:<side>:<note id>`, as they were written.
    pub fn mirror_marker(&self, side: Side, comment_id: &str) -> String {
        match &self.marker {
            Some(_) => format!("{}{}", self.mirror_prefix(side), marker_id(comment_id)),
            None => format!("{}{comment_id}", self.mirror_prefix(side)),
        }
    }

    /// The marker of a note the bridge writes on its own account for a
    /// change on `side` (`kind` `close`: the close rule's note; `desc`: a
    /// description edit), made unique by `n`, a fresh store id.
    pub fn event_marker(&self, kind: &str, side: Side, n: u64) -> String {
        format!("{}{n}", self.event_prefix(kind, side))
    }

    /// How [`Link::event_marker`]s of `kind` for changes on `side` start:
    /// `<ticket marker without prefix>:<kind>:<side>:`, or for links made
    /// before markers were stored `<pairing>:<link id>:<kind>:<side>:`.
    pub fn event_prefix(&self, kind: &str, side: Side) -> String {
        match &self.marker {
            Some(marker) => format!(
                "{}:{kind}:{side}:",
                marker
                    .strip_prefix(psa_connector::marker::TICKET_MARKER_PREFIX)
                    .unwrap_or(marker)
            ),
            None => format!("{}:{}:{kind}:{side}:", self.pairing, self.id),
        }
    }

    /// How the markers of this link's mirrors of `side`'s notes start.
    pub fn mirror_prefix(&self, side: Side) -> String {
        match &self.marker {
            Some(marker) => format!(
                "{}:{side}:",
                marker
                    .strip_prefix(psa_connector::marker::TICKET_MARKER_PREFIX)
                    .unwrap_or(marker)
            ),
            None => format!("{}:{}:{side}:", self.pairing, self.id),
        }
    }
}

/// The ticket marker of the link that `ticket_id` on `origin` escalates in
/// `pairing`: `psa-bridge:<pairing>:<origin side>:<ticket id>`. It depends
/// on the source ticket only, so escalating the same ticket again (its link
/// lost with a restored backup) finds the far ticket made the first time.
pub fn ticket_marker_for(pairing: &str, origin: Side, ticket_id: &str) -> String {
    format!(
        "{}{pairing}:{origin}:{}",
        psa_connector::marker::TICKET_MARKER_PREFIX,
        marker_id(ticket_id)
    )
}

/// A vendor id as one marker segment. Ids of 1 to 40 letters, digits, `-`
/// and `.` (Autotask, ConnectWise and Jira numbers, ServiceNow's 32-hex
/// `sys_id`) stand as they are; any other id (longer, or with characters a
/// marker cannot hold or that would split a segment) becomes `_` and 32 hex
/// digits of its SHA-256, which no id standing as it is starts with.
pub fn marker_id(id: &str) -> String {
    let plain = (1..=40).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if plain {
        return id.to_string();
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(id.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("_{hex}")
}
