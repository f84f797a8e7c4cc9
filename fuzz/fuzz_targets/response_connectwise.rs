//! ConnectWise answers as the connector reads them: a ticket, a notes
//! page, a ticket list, discovery lists, `Link` paging and `/count`,
//! `companyinfo` (the API root it leads to) and an error body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use psa_connectwise::fuzzing;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let parts = common::split(data);
    match parts.flags % 7 {
        0 => drop(fuzzing::ticket(parts.rest, parts.flags & 0x80 != 0)),
        1 => drop(fuzzing::notes(parts.rest)),
        2 => drop(fuzzing::tickets(parts.rest)),
        3 => drop(fuzzing::catalog(parts.first, parts.rest, parts.rest)),
        4 => drop(fuzzing::paging(parts.first, parts.rest)),
        5 => {
            let site = url::Url::parse("https://na.myconnectwise.net/").unwrap();
            if let Ok(root) = fuzzing::company_info(&site, parts.rest) {
                // Credentials never leave the configured site's region.
                let host = root.host_str().unwrap_or_default();
                assert!(
                    host.ends_with("myconnectwise.net"),
                    "companyinfo led credentials to {root}"
                );
            }
        }
        _ => {
            let status = 400 + u16::from(parts.first.first().copied().unwrap_or(100));
            drop(fuzzing::error(status, parts.rest));
        }
    }
});
