//! `flowfence inventory fetch` without AWS: what it says when it can't start. (The fetch
//! itself runs against moto beside the AWS CLI in `.ci/moto_fetch.py`.)

use std::process::Command;

/// No region configured and none asked: the fetch stops before any call, saying how to
/// give one, and writes nothing.
#[test]
fn a_fetch_without_a_region_says_how_to_give_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("inventory");
    let result = Command::new(env!("CARGO_BIN_EXE_flowfence"))
        .args(["inventory", "fetch", "-o"])
        .arg(&out)
        .env_clear()
        .env("HOME", dir.path())
        .env("AWS_CONFIG_FILE", dir.path().join("none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("none"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(74), "{stderr}");
    assert_eq!(
        stderr.trim(),
        "flowfence: error: no region: pass --region, --all-regions, or configure one (AWS_REGION, the profile's region)"
    );
    assert!(!out.exists());
}
