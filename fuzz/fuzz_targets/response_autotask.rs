//! Autotask answers as the connector reads them: a ticket (with the
//! picklists answer), a notes page, a polling page, a count, a resource and
//! an error body. The flag byte picks the reader.
#![no_main]

use libfuzzer_sys::fuzz_target;
use psa_autotask::fuzzing;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let parts = common::split(data);
    match parts.flags % 6 {
        0 => drop(fuzzing::ticket(parts.first, parts.rest)),
        1 => drop(fuzzing::notes(parts.first, parts.rest)),
        2 => drop(fuzzing::poll(parts.rest)),
        3 => drop(fuzzing::count(parts.rest, parts.first.len() as u64)),
        4 => drop(fuzzing::resource_name(parts.rest)),
        _ => {
            let status = 400 + u16::from(parts.first.first().copied().unwrap_or(100));
            let e = fuzzing::error(status, parts.rest);
            let _ = (e.to_string(), e.retry_action());
        }
    }
});
