//! The fault switch, and what a real write error does to sled: it keeps
//! failing after the disk recovers, so the store asks for a restart.

use std::io::ErrorKind;

use super::*;

fn record(store: &Store, n: u32) -> Result<(), StoreError> {
    store.transact(|tx| tx.put(TreeName::Cursors, format!("c{n}").as_bytes(), &vec![n; 512]))
}

#[tokio::test]
async fn injected_faults_fail_writes_and_heal_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s")).unwrap();
    record(&store, 1).unwrap();
    store.flush().await.unwrap();
    assert_eq!(store.write_failure(), None);

    store
        .faults()
        .set_write_failure(Some(ErrorKind::StorageFull));
    let err = record(&store, 2).unwrap_err();
    assert!(
        matches!(&err, StoreError::Sled(sled::Error::Io(e)) if e.kind() == ErrorKind::StorageFull),
        "{err:?}"
    );
    assert!(store.flush().await.is_err());
    assert!(
        store.cursor("c2").unwrap().is_none(),
        "nothing half-written"
    );
    assert!(store.write_failure().is_some());
    assert!(!store.needs_restart(), "an injected fault is not sled's");

    // The file switch: writes fail while the file exists.
    store.faults().set_write_failure(None);
    let flag = dir.path().join("fault");
    store.faults().fail_while_file_exists(Some(flag.clone()));
    record(&store, 3).unwrap();
    std::fs::write(&flag, b"").unwrap();
    assert!(record(&store, 4).is_err());
    std::fs::remove_file(&flag).unwrap();
    record(&store, 5).unwrap();
    store.flush().await.unwrap();
    assert_eq!(store.write_failure(), None, "healed by a successful flush");
}

/// Runs [`real_write_error_child`] in a child process whose file size
/// limit (RLIMIT_FSIZE, with SIGXFSZ ignored) makes sled's writes fail
/// with a real I/O error, as a full disk does.
#[cfg(target_os = "linux")]
#[test]
fn a_real_write_error_sticks_in_sled_and_asks_for_a_restart() {
    let has_prlimit = std::process::Command::new("prlimit")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_prlimit {
        eprintln!("prlimit (util-linux) not installed; skipped");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; exec \"$@\"")
        .arg("sh")
        .arg(&exe)
        .args([
            "--exact",
            "store::faults_tests::real_write_error_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PSA_BRIDGE_FSIZE_CHILD", dir.path())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{text}");
    assert!(text.contains("1 passed"), "{text}");
}

/// The child of the test above (does nothing when run directly).
#[tokio::test]
#[ignore = "run by a_real_write_error_sticks_in_sled_and_asks_for_a_restart"]
async fn real_write_error_child() {
    let Some(dir) = std::env::var_os("PSA_BRIDGE_FSIZE_CHILD") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let store = Store::open(&dir.join("s")).unwrap();
    record(&store, 0).unwrap();
    store.flush().await.unwrap();
    let pid = std::process::id().to_string();
    let limit = |value: &str| {
        let status = std::process::Command::new("prlimit")
            .args(["--pid", &pid, &format!("--fsize={value}")])
            .status()
            .unwrap();
        assert!(status.success());
    };
    let size = std::fs::metadata(dir.join("s").join("db")).unwrap().len();
    limit(&format!("{size}:unlimited"));
    let mut failed = None;
    for n in 1..2000 {
        let result = match record(&store, n) {
            Ok(()) => store.flush().await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            failed = Some(e);
            break;
        }
    }
    let failed = failed.expect("writes never failed under the file size limit");
    assert!(
        matches!(failed, StoreError::Sled(sled::Error::Io(_))),
        "{failed:?}"
    );
    assert!(store.needs_restart());
    assert!(store.write_failure().is_some());
    // The "disk" has room again, but sled keeps the error: a restart is needed.
    limit("unlimited:unlimited");
    let again = match record(&store, 9999) {
        Ok(()) => store.flush().await,
        Err(e) => Err(e),
    };
    assert!(
        again.is_err(),
        "sled recovered in place after all; the restart is not needed"
    );
    assert!(store.needs_restart());
}
