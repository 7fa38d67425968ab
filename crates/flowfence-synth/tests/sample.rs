//! The bundled `sample-logs/` is exactly what `flowfence-synth --sample` writes, so it can
//! be regenerated, and any change to the generator that alters it is seen in review.
//! After an intended change (or a Parquet crate upgrade, whose version Parquet files
//! record), regenerate: `cargo run -p flowfence-synth -- --sample --out sample-logs`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn bundled_sample_is_the_generators_output() {
    let bundled = flowfence_testdata::sample_logs();
    let fresh = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_flowfence-synth"))
        .args(["--sample", "--out"])
        .arg(fresh.path())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let names = files(fresh.path());
    assert_eq!(
        names,
        files(&bundled),
        "sample-logs has other files than the generator writes"
    );
    assert!(names.len() > 30);
    for name in names {
        let a = std::fs::read(fresh.path().join(&name)).unwrap();
        let b = std::fs::read(bundled.join(&name)).unwrap();
        assert!(
            a == b,
            "sample-logs/{} differs from the generator's output",
            name.display()
        );
    }
}
