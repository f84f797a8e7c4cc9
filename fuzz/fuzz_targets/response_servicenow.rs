//! ServiceNow answers as the connector reads them: a record, a journal
//! page, a polling page and an error body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use psa_servicenow::fuzzing;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let parts = common::split(data);
    match parts.flags % 4 {
        0 => drop(fuzzing::ticket(parts.rest)),
        1 => drop(fuzzing::journal(parts.rest)),
        2 => drop(fuzzing::poll(parts.rest)),
        _ => {
            let status = 400 + u16::from(parts.first.first().copied().unwrap_or(100));
            let e = fuzzing::error(status, parts.rest);
            let _ = (e.to_string(), e.retry_action());
        }
    }
});
