//! Hostile input, bounded: the config loader and the mapping loader
//! (`psa_bridge::config::load`: `${VAR}` substitution, TOML parsing, every
//! check, the mapping's `validate`, then `validate_against` catalogs) given
//! arbitrary bytes, or the shipped files with lines replaced, cut or
//! inserted, answer with a `ConfigError` or a config, never a panic.
//! 256 cases per property from a fixed seed (every run and CI check the
//! same inputs); the `config_load` and `mapping_load` fuzz targets
//! (`scripts/fuzz.sh`) explore further.

use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, RngSeed};
use psa_connector::{Catalog, StatusInfo};

const CONFIG: &str = include_str!("../psa-bridge.example.toml");
const MAPPING: &str = include_str!("../mappings/autotask-to-connectwise.toml");
const SN_MAPPING: &str = include_str!("../mappings/servicenow-to-connectwise.toml");

fn config() -> Config {
    Config {
        cases: 256,
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0xc0f1_9000),
        ..Config::default()
    }
}

/// A TOML value, often one a field does not expect.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("18446744073709551616".to_string()),
        Just("99999999999999999999999".to_string()),
        Just("1e308".to_string()),
        Just("nan".to_string()),
        Just("true".to_string()),
        Just("\"${PSA_VAR}\"".to_string()),
        Just("\"${\"".to_string()),
        Just("\"$${X}\"".to_string()),
        Just("\"0.0.0.0:0\"".to_string()),
        Just("\"[::1]:65535\"".to_string()),
        Just("\"b\"".to_string()),
        Just("\"status\"".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]".to_string()),
        Just("{ a = \"x\", b_with = { close_code = \"{note}\" } }".to_string()),
        Just("\"{title} {number} {unknown} {\"".to_string()),
        "[ -~]{0,40}".prop_map(|s| format!("{s:?}")),
        any::<String>().prop_map(|s| format!("{s:?}")),
        "[ -~]{0,40}",
    ]
}

/// How one line of a shipped file is spoilt.
#[derive(Clone, Debug)]
enum Edit {
    /// The value after `=` on line `n` replaced.
    Value(usize, String),
    /// A line inserted before line `n`.
    Insert(usize, String),
    /// The text cut at byte `n` (at a character boundary).
    Cut(usize),
    /// Line `n` dropped.
    Drop(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), toml_value()).prop_map(|(n, v)| Edit::Value(n, v)),
        (
            any::<usize>(),
            prop_oneof![
                "[a-z_]{1,20} = "
                    .prop_flat_map(|k| toml_value().prop_map(move |v| format!("{k}{v}"))),
                Just("[daemon]".to_string()),
                Just("[[pairings]]".to_string()),
                Just("[[fields]]".to_string()),
                Just("[connections.x]".to_string()),
                "[ -~]{0,60}",
            ]
        )
            .prop_map(|(n, l)| Edit::Insert(n, l)),
        any::<usize>().prop_map(Edit::Cut),
        any::<usize>().prop_map(Edit::Drop),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut cut = None;
    for e in edits {
        let n = lines.len().max(1);
        match e {
            Edit::Value(i, v) => {
                if let Some(line) = lines.get_mut(i % n) {
                    if let Some(eq) = line.find('=') {
                        *line = format!("{}= {v}", &line[..eq]);
                    }
                }
            }
            Edit::Insert(i, l) => lines.insert(i % (lines.len() + 1), l.clone()),
            Edit::Cut(at) => cut = Some(*at),
            Edit::Drop(i) => {
                if !lines.is_empty() {
                    lines.remove(i % n);
                }
            }
        }
    }
    let mut out = lines.join("\n");
    if let Some(at) = cut {
        let mut at = at % (out.len() + 1);
        while !out.is_char_boundary(at) {
            at -= 1;
        }
        out.truncate(at);
    }
    out
}

fn catalog() -> Catalog {
    Catalog {
        statuses: vec![StatusInfo {
            label: "New".into(),
            closed: false,
        }],
        priorities: vec!["High".into()],
        queues: vec!["Escalate to MSP".into()],
    }
}

/// Loads `config_text` naming `mapping_text`; every outcome but a panic is fine.
fn load(dir: &Path, config_text: &[u8], mapping_text: &[u8]) {
    std::fs::create_dir_all(dir.join("mappings")).unwrap();
    std::fs::write(
        dir.join("mappings/autotask-to-connectwise.toml"),
        mapping_text,
    )
    .unwrap();
    let path = dir.join("psa-bridge.toml");
    std::fs::write(&path, config_text).unwrap();
    let lookup = |name: &str| (name != "UNSET").then(|| format!("value-of-{name}"));
    if let Ok(loaded) = psa_bridge::config::load(&path, &lookup) {
        for p in &loaded.pairings {
            let _ = p.mapping.validate_against(
                &p.mapping_path,
                &p.mapping_source,
                &catalog(),
                &catalog(),
            );
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_as_config_or_mapping_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let dir = tempfile::tempdir().unwrap();
        load(dir.path(), &bytes, MAPPING.as_bytes());
        load(dir.path(), CONFIG.as_bytes(), &bytes);
    }

    #[test]
    fn spoilt_configs_never_panic(edits in prop::collection::vec(edit(), 1..4)) {
        let dir = tempfile::tempdir().unwrap();
        load(dir.path(), apply(CONFIG, &edits).as_bytes(), MAPPING.as_bytes());
    }

    #[test]
    fn spoilt_mappings_never_panic(edits in prop::collection::vec(edit(), 1..4), servicenow in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let base = if servicenow { SN_MAPPING } else { MAPPING };
        load(dir.path(), CONFIG.as_bytes(), apply(base, &edits).as_bytes());
    }
}

/// The shipped files load (so the spoilt variants start from a valid text).
#[test]
fn the_shipped_files_load() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("mappings")).unwrap();
    std::fs::write(
        dir.path().join("mappings/autotask-to-connectwise.toml"),
        MAPPING,
    )
    .unwrap();
    let path = dir.path().join("psa-bridge.toml");
    std::fs::write(&path, CONFIG).unwrap();
    let lookup = |name: &str| Some(format!("value-of-{name}"));
    psa_bridge::config::load(&path, &lookup).unwrap();
}
