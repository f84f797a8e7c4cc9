//! Jira answers as the connector reads them: an issue, a comment page
//! (service desk or software project), a `search/jql` page, a walk over
//! repeated pages (page and byte caps hold) and an error body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use psa_jira::fuzzing;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let parts = common::split(data);
    match parts.flags % 6 {
        0 => drop(fuzzing::ticket(parts.rest)),
        1 => drop(fuzzing::comments(parts.rest, true)),
        2 => drop(fuzzing::comments(parts.rest, false)),
        3 => drop(fuzzing::poll(parts.rest)),
        4 => {
            let pages = [parts.first.to_vec(), parts.rest.to_vec()];
            let (read, _) = fuzzing::search_walk(&pages);
            assert!(read <= fuzzing::MAX_SEARCH_PAGES);
            let (read, _) = fuzzing::comment_walk(&pages);
            assert!(read <= fuzzing::MAX_COMMENT_PAGES);
        }
        _ => {
            let status = 400 + u16::from(parts.first.first().copied().unwrap_or(100));
            drop(fuzzing::error(status, parts.rest));
        }
    }
});
