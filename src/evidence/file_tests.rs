//! Signatures bind a bundle to a key (and name a wrong one); key files are
//! written owner-only and never over existing files; hostile bundle and key
//! files are refused with a reason.

use chrono::Duration;

use super::bundle::{self, MAX_BUNDLE_BYTES};
use super::sign::{self, key_paths};
use super::tests::{acme_bundle, chain};
use super::*;

#[test]
fn signatures_pass_with_the_right_key_and_fail_naming_a_wrong_one() {
    let (_d, entries) = chain();
    let dir = tempfile::tempdir().unwrap();
    let msp = dir.path().join("msp");
    let client = dir.path().join("client");
    let msp_id = sign::generate(&msp).unwrap();
    sign::generate(&client).unwrap();
    let (msp_key, msp_pub) = key_paths(&msp);
    let (_, client_pub) = key_paths(&client);

    let unsigned = acme_bundle(&entries);
    let msp_public = sign::read_public_key(&msp_pub).unwrap();
    let err = sign::check(&unsigned, &msp_public).unwrap_err();
    assert!(err.contains("not signed"), "{err}");

    let mut bundle = unsigned.clone();
    let id = sign::sign(&mut bundle, &sign::read_signing_key(&msp_key).unwrap()).unwrap();
    assert_eq!(id, msp_id);
    let read = Bundle::parse("b", &bundle.to_json().unwrap()).unwrap();
    sign::check(&read, &msp_public).unwrap();

    let client_public = sign::read_public_key(&client_pub).unwrap();
    let err = sign::check(&read, &client_public).unwrap_err();
    assert!(err.contains(&client_pub.display().to_string()), "{err}");
    assert!(
        err.contains(&client_public.id) && err.contains(&msp_id),
        "{err}"
    );

    // Any change after signing, even one the chain cannot see.
    let mut changed = read.clone();
    changed.body.generated_at += Duration::seconds(1);
    let err = sign::check(&changed, &msp_public).unwrap_err();
    assert!(err.contains("changed after signing"), "{err}");
    // A signature copied under the other key's id does not pass either.
    let mut relabelled = read.clone();
    relabelled.signatures[0].key_id = client_public.id.clone();
    assert!(sign::check(&relabelled, &client_public).is_err());
}

#[cfg(unix)]
#[test]
fn keys_are_written_owner_only_never_over_existing_files_and_garbage_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("team");
    sign::generate(&prefix).unwrap();
    let (private, public) = key_paths(&prefix);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&private), 0o600);
    assert_eq!(mode(&public), 0o644, "the public half is for sharing");
    let before = std::fs::read(&private).unwrap();
    let err = sign::generate(&prefix).unwrap_err();
    assert!(matches!(err, EvidenceError::Exists { .. }), "{err}");
    assert_eq!(std::fs::read(&private).unwrap(), before, "not overwritten");
    // Only the public half there: refused too, nothing written.
    let other = dir.path().join("other");
    std::fs::write(key_paths(&other).1, "x").unwrap();
    assert!(sign::generate(&other).is_err());
    assert!(!key_paths(&other).0.exists());

    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = sign::read_signing_key(&private).unwrap_err().to_string();
    assert!(err.contains("mode 644"), "{err}");
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
    let link = dir.path().join("link.key");
    std::os::unix::fs::symlink(&private, &link).unwrap();
    let err = sign::read_signing_key(&link).unwrap_err().to_string();
    assert!(err.contains("symbolic link"), "{err}");
    let err = sign::read_signing_key(&public).unwrap_err().to_string();
    assert!(err.contains("wrong half"), "{err}");

    let garbage = dir.path().join("garbage.pub");
    for (content, expect) in [
        (&b"hello"[..], "not a psa-bridge public key"),
        (b"psa-bridge-ed25519-public-key:!!!", "base64"),
        (b"psa-bridge-ed25519-public-key:AAAA", "not 32"),
        (b"\xff\xfe\x00", "not text"),
    ] {
        std::fs::write(&garbage, content).unwrap();
        let err = sign::read_public_key(&garbage).unwrap_err().to_string();
        assert!(err.contains(expect), "{content:?}: {err}");
    }
    std::fs::write(&garbage, vec![b'A'; 10_000]).unwrap();
    let err = sign::read_public_key(&garbage).unwrap_err().to_string();
    assert!(err.contains("one short line"), "{err}");
    let err = sign::read_public_key(&dir.path().join("missing.pub"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.pub"), "{err}");
}

#[test]
fn hostile_bundle_files_are_refused_with_a_reason() {
    let (_d, entries) = chain();
    let good = acme_bundle(&entries).to_json().unwrap();
    let parse = |bytes: &[u8]| Bundle::parse("b.json", bytes).unwrap_err();

    let err = parse(&good[..good.len() / 2]);
    assert!(err.to_string().contains("truncated"), "{err}");
    let err = parse(b"\xff\xfe{}");
    assert!(
        matches!(err, EvidenceError::NotText { offset: 0, .. }),
        "{err}"
    );
    let newer =
        String::from_utf8(good.clone())
            .unwrap()
            .replacen("\"version\": 2", "\"version\": 3", 1);
    let err = parse(newer.as_bytes());
    assert!(
        matches!(err, EvidenceError::Version { found: 3, .. }),
        "{err}"
    );
    let foreign =
        String::from_utf8(good.clone())
            .unwrap()
            .replacen(bundle::FORMAT, "something-else", 1);
    assert!(parse(foreign.as_bytes())
        .to_string()
        .contains("something-else"));
    let err = parse(b"[1, 2]");
    assert!(err.to_string().contains("not an evidence bundle"), "{err}");
    let extra = String::from_utf8(good.clone()).unwrap().replacen(
        "\"kind\":",
        "\"note\": \"trust me\", \"kind\":",
        1,
    );
    let err = parse(extra.as_bytes());
    assert!(err.to_string().contains("note"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.json");
    std::fs::write(&path, &good).unwrap();
    let err = Bundle::read(&path, 100).unwrap_err();
    assert!(matches!(err, EvidenceError::TooLarge { .. }), "{err}");
    assert!(Bundle::read(&path, MAX_BUNDLE_BYTES).is_ok());
    let err = Bundle::read(&dir.path().join("missing.json"), MAX_BUNDLE_BYTES).unwrap_err();
    assert!(err.to_string().contains("missing.json"), "{err}");
    // Writing refuses to replace a file.
    let err = acme_bundle(&entries).write_new(&path).unwrap_err();
    assert!(matches!(err, EvidenceError::Exists { .. }), "{err}");
}
