//! The config loader (`psa_bridge::config::load`): any bytes as the
//! configuration file, with `${VAR}` substitution, next to a valid mapping.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

const MAPPING: &str = include_str!("../../mappings/autotask-to-connectwise.toml");

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("psa-fuzz-config-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("mappings")).unwrap();
        std::fs::write(dir.join("mappings/autotask-to-connectwise.toml"), MAPPING).unwrap();
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let path = dir().join("psa-bridge.toml");
    std::fs::write(&path, data).unwrap();
    let lookup = |name: &str| (name.len() < 8).then(|| format!("value-of-{name}"));
    let _ = psa_bridge::config::load(&path, &lookup);
});
