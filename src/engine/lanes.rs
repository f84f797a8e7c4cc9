//! Planning lanes: the planner plans several tickets at once, but notices
//! that touch the same link stay in one lane and are planned one after the
//! other. Two plans of one link at the same time could each read the shadow
//! after the other committed but the outbox before it, and mistake the
//! other's planned write for a change on the far side.

use std::collections::HashMap;

use crate::store::InboxItem;

/// A due notice with the other notices for the same ticket it covers.
pub type Group = (InboxItem, Vec<u64>);

/// Splits `groups` into lanes: groups sharing a link id end up in the same
/// lane (in their original order); groups without a link (escalation
/// candidates, one per ticket) each get their own lane.
pub fn lanes(groups: Vec<Group>, links_of: impl Fn(&InboxItem) -> Vec<u64>) -> Vec<Vec<Group>> {
    let mut parent: Vec<usize> = (0..groups.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut owner: HashMap<u64, usize> = HashMap::new();
    for (i, (item, _)) in groups.iter().enumerate() {
        for link in links_of(item) {
            match owner.get(&link) {
                Some(&j) => {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                    parent[a.max(b)] = a.min(b);
                }
                None => {
                    owner.insert(link, i);
                }
            }
        }
    }
    let mut lanes: Vec<Vec<Group>> = Vec::new();
    let mut lane_of_root: HashMap<usize, usize> = HashMap::new();
    for (i, group) in groups.into_iter().enumerate() {
        let r = root(&mut parent, i);
        let lane = *lane_of_root.entry(r).or_insert_with(|| {
            lanes.push(Vec::new());
            lanes.len() - 1
        });
        lanes[lane].push(group);
    }
    lanes
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

    #[test]
    fn notices_of_one_link_share_a_lane_in_order() {
        let groups = vec![item(1, "a1"), item(2, "x"), item(3, "b1"), item(4, "a2")];
        let links = |i: &InboxItem| match i.ticket_id.as_str() {
            "a1" | "b1" => vec![7],
            "a2" => vec![8],
            _ => vec![],
        };
        let lanes = lanes(groups, links);
        let ids: Vec<Vec<u64>> = lanes
            .iter()
            .map(|l| l.iter().map(|(i, _)| i.id).collect())
            .collect();
        assert_eq!(ids, vec![vec![1, 3], vec![2], vec![4]]);
    }

    #[test]
    fn a_notice_in_two_links_joins_their_lanes() {
        let groups = vec![item(1, "p"), item(2, "q"), item(3, "both")];
        let links = |i: &InboxItem| match i.ticket_id.as_str() {
            "p" => vec![1],
            "q" => vec![2],
            _ => vec![1, 2],
        };
        let lanes = lanes(groups, links);
        assert_eq!(lanes.len(), 1);
        assert_eq!(lanes[0].len(), 3);
    }
}
