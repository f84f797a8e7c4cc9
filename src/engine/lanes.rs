//! Planning lanes: the planner plans several tickets at once, but notices
//! that touch the same link (or the same ticket) are never planned at the
//! same time, and start in arrival order. Two plans of one link at the same
//! time could each read the shadow after the other committed but the outbox
//! before it, and mistake the other's planned write for a change on the far
//! side. [`Lanes`] keeps the groups read from the inbox and what the running
//! plans hold; `engine::schedule` starts a group whenever a lane is free.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::store::InboxItem;

/// A due notice with the other notices for the same ticket it covers.
pub type Group = (InboxItem, Vec<u64>);

/// A ticket: connection and ticket id.
pub(super) type TicketKey = (String, String);

/// A group read from the inbox, with the links it touches.
pub(super) struct Waiting {
    pub group: Group,
    pub links: Vec<u64>,
}

impl Waiting {
    fn ticket(&self) -> TicketKey {
        (
            self.group.0.connection.clone(),
            self.group.0.ticket_id.clone(),
        )
    }

    fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        std::iter::once(self.group.0.id).chain(self.group.1.iter().copied())
    }
}

/// The groups waiting for a lane and what the running plans hold.
#[derive(Default)]
pub(super) struct Lanes {
    waiting: VecDeque<Waiting>,
    /// Inbox ids of the running plans' groups.
    pub running_ids: HashSet<u64>,
    busy_links: HashMap<u64, usize>,
    busy_tickets: HashSet<TicketKey>,
}

impl Lanes {
    /// Replaces the waiting groups with a fresh read of the inbox (in
    /// arrival order, the notices of running plans left out).
    pub fn refill(&mut self, groups: Vec<Group>, links_of: impl Fn(&InboxItem) -> Vec<u64>) {
        self.waiting = groups
            .into_iter()
            .map(|group| {
                let links = links_of(&group.0);
                Waiting { group, links }
            })
            .collect();
    }

    /// The oldest waiting group that may start now: none of its links and
    /// not its ticket held by a running plan, nor by an earlier group that
    /// has to wait (so one link's groups start in arrival order).
    pub fn first_startable(&self) -> Option<usize> {
        let mut blocked_links: HashSet<u64> = HashSet::new();
        let mut blocked_tickets: HashSet<TicketKey> = HashSet::new();
        for (at, w) in self.waiting.iter().enumerate() {
            let ticket = w.ticket();
            let held =
                |link: &u64| self.busy_links.contains_key(link) || blocked_links.contains(link);
            if self.busy_tickets.contains(&ticket)
                || blocked_tickets.contains(&ticket)
                || w.links.iter().any(held)
            {
                blocked_links.extend(w.links.iter().copied());
                blocked_tickets.insert(ticket);
                continue;
            }
            return Some(at);
        }
        None
    }

    /// Takes [`Lanes::first_startable`] and marks what it holds busy until
    /// [`Lanes::finish`].
    pub fn start_next(&mut self) -> Option<Waiting> {
        let at = self.first_startable()?;
        let w = self.waiting.remove(at)?;
        for link in &w.links {
            *self.busy_links.entry(*link).or_default() += 1;
        }
        self.busy_tickets.insert(w.ticket());
        self.running_ids.extend(w.ids());
        Some(w)
    }

    /// Frees what a finished group held.
    pub fn finish(&mut self, w: &Waiting) {
        for link in &w.links {
            if let Some(n) = self.busy_links.get_mut(link) {
                *n -= 1;
                if *n == 0 {
                    self.busy_links.remove(link);
                }
            }
        }
        self.busy_tickets.remove(&w.ticket());
        for id in w.ids() {
            self.running_ids.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: u64, ticket: &str) -> Group {
        (
            InboxItem {
                id,
                connection: "c".into(),
                ticket_id: ticket.into(),
                source: crate::store::IntakeSource::Poll,
                dedup_key: format!("k{id}"),
                received_at: chrono::Utc::now(),
                updated_at: None,
                attempts: 0,
                next_attempt_at: None,
                detail: Default::default(),
            },
            Vec::new(),
        )
    }

    /// Starts every group that may start now; their first notice ids.
    fn start_all(lanes: &mut Lanes) -> Vec<Waiting> {
        std::iter::from_fn(|| lanes.start_next()).collect()
    }

    fn ids(started: &[Waiting]) -> Vec<u64> {
        started.iter().map(|w| w.group.0.id).collect()
    }

    #[test]
    fn notices_of_one_link_plan_one_at_a_time_in_order() {
        let mut lanes = Lanes::default();
        let groups = vec![item(1, "a1"), item(2, "x"), item(3, "b1"), item(4, "a2")];
        lanes.refill(groups, |i: &InboxItem| match i.ticket_id.as_str() {
            "a1" | "b1" => vec![7],
            "a2" => vec![8],
            _ => vec![],
        });
        // 3 shares link 7 with the running 1: it waits, the others start.
        let first = start_all(&mut lanes);
        assert_eq!(ids(&first), vec![1, 2, 4]);
        assert!(lanes.start_next().is_none());
        lanes.finish(&first[1]);
        lanes.finish(&first[2]);
        assert!(lanes.start_next().is_none(), "link 7 is still planning");
        lanes.finish(&first[0]);
        assert_eq!(ids(&start_all(&mut lanes)), vec![3]);
    }

    #[test]
    fn a_notice_in_two_links_waits_for_both_and_keeps_later_ones_behind_it() {
        let mut lanes = Lanes::default();
        let groups = vec![item(1, "p"), item(2, "both"), item(3, "q")];
        lanes.refill(groups, |i: &InboxItem| match i.ticket_id.as_str() {
            "p" => vec![1],
            "q" => vec![2],
            _ => vec![1, 2],
        });
        // "both" waits for link 1; "q" (link 2) is behind it.
        let first = start_all(&mut lanes);
        assert_eq!(ids(&first), vec![1]);
        lanes.finish(&first[0]);
        let second = start_all(&mut lanes);
        assert_eq!(ids(&second), vec![2]);
        lanes.finish(&second[0]);
        assert_eq!(ids(&start_all(&mut lanes)), vec![3]);
    }

    #[test]
    fn a_ticket_being_planned_is_not_planned_again_at_the_same_time() {
        let mut lanes = Lanes::default();
        lanes.refill(vec![item(1, "t")], |_: &InboxItem| vec![]);
        let first = start_all(&mut lanes);
        assert_eq!(lanes.running_ids, HashSet::from([1]));
        // A notice for the same unlinked ticket arrives meanwhile.
        lanes.refill(vec![item(5, "t"), item(6, "u")], |_: &InboxItem| vec![]);
        assert_eq!(ids(&start_all(&mut lanes)), vec![6]);
        lanes.finish(&first[0]);
        assert_eq!(ids(&start_all(&mut lanes)), vec![5]);
    }
}
