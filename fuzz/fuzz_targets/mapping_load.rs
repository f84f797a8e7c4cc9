//! The mapping loader: any bytes as the mapping file a valid configuration
//! names, read, parsed and validated by `psa_bridge::config::load`, then
//! checked against vendor catalogs (`Mapping::validate_against`).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use psa_connector::{Catalog, StatusInfo};

const CONFIG: &str = include_str!("../../psa-bridge.example.toml");

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("psa-fuzz-mapping-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("mappings")).unwrap();
        std::fs::write(dir.join("psa-bridge.toml"), CONFIG).unwrap();
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    std::fs::write(dir().join("mappings/autotask-to-connectwise.toml"), data).unwrap();
    let lookup = |name: &str| Some(format!("value-of-{name}"));
    let Ok(loaded) = psa_bridge::config::load(&dir().join("psa-bridge.toml"), &lookup) else {
        return;
    };
    let catalog = Catalog {
        statuses: vec![StatusInfo {
            label: "New".into(),
            closed: false,
        }],
        priorities: vec!["High".into()],
        queues: vec!["Escalations".into()],
    };
    for pairing in &loaded.pairings {
        let _ = pairing.mapping.validate_against(
            &pairing.mapping_path,
            &pairing.mapping_source,
            &catalog,
            &catalog,
        );
    }
});
