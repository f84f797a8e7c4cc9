//! The store and its side files are owner-only after a daemon run: the store
//! directory and every directory in it 0700, no file in it readable or
//! writable by group or others (sled's own files included, created under the
//! daemon's umask 077), the generated admin token 0600. A store directory
//! made loose by hand is tightened at the next start.

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use psa_bridge::demo::DemoOptions;

use crate::common::{env, settled, Bridge};

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

/// Every path under `dir` (itself included) with group/other bits, or a
/// directory not exactly 0700.
fn loose(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let m = mode(dir);
    if m != 0o700 {
        out.push(format!("{} {m:o}", dir.display()));
    }
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            out.extend(loose(&path));
        } else if meta.permissions().mode() & 0o077 != 0 {
            out.push(format!("{} {:o}", path.display(), mode(&path)));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_and_token_are_owner_only_after_a_run() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let root = env.config_path.parent().unwrap().to_path_buf();
    let store = root.join("store");
    let bridge = Bridge::spawn(&env.config_path).await;
    settled(&env, &bridge).await;
    bridge.stop().await;
    let files = std::fs::read_dir(&store).unwrap().count();
    assert!(files > 0, "sled wrote its files");
    assert_eq!(loose(&store), Vec::<String>::new());
    assert_eq!(mode(&root.join("store.token")), 0o600);

    // Loosened by hand (or by an older version): tightened at the next start.
    for entry in std::fs::read_dir(&store).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o755)).unwrap();
    let bridge = Bridge::spawn(&env.config_path).await;
    bridge.stop().await;
    assert_eq!(loose(&store), Vec::<String>::new());
}
