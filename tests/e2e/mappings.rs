//! Every file in `mappings/` is a direction the demo plays, and `psa-bridge
//! check` accepts it: offline (syntax, keys, companions, placeholders) and
//! against the simulators (every label, queue, board, group and status
//! exists on its vendor), in one configuration naming a connection of each
//! vendor and one pairing per file.

use psa_bridge::demo::{DemoOptions, Pairing, PAIRINGS};

use crate::common::{cli, env, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_accepts_every_shipped_mapping() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings");
    let mut pairings: Vec<(String, &'static Pairing)> = Vec::new();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&shipped).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
        assert_eq!(
            path.extension().and_then(|e| e.to_str()),
            Some("toml"),
            "{}",
            path.display()
        );
        let pairing = PAIRINGS
            .iter()
            .find(|p| format!("{}-to-{}", p.internal.connection(), p.msp.connection()) == stem)
            .unwrap_or_else(|| panic!("{stem}.toml is no direction the demo plays"));
        pairings.push((stem.replace('-', "_"), pairing));
        files.push(path);
    }
    assert_eq!(pairings.len(), 12, "one mapping per direction: {files:?}");
    let named: Vec<(&str, &'static Pairing)> =
        pairings.iter().map(|(n, p)| (n.as_str(), *p)).collect();
    env.write_config_for(&named, &DemoOptions::default())
        .unwrap();
    // The files as they are on disk, not as the binary was built with them.
    for ((name, _), path) in pairings.iter().zip(&files) {
        std::fs::copy(path, env.dir.join(format!("mapping-{name}.toml"))).unwrap();
    }
    let config = env.config_path.to_str().unwrap();
    for args in [
        vec!["check", "--config", config, "--offline"],
        vec!["check", "--config", config],
    ] {
        let output = cli(&args).await;
        let out = text(&output);
        assert!(output.status.success(), "{args:?}: {out}");
        assert!(out.contains("12 mapping(s) are valid"), "{args:?}: {out}");
    }
}
