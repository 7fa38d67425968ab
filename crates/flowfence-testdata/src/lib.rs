//! Where flowfence's tests find the repository's data: the workspace root, and the
//! bundled `sample-logs/` under it. A dev-dependency of the crates whose tests read them.

use std::path::PathBuf;

/// The workspace root, two levels above the running test's crate (`crates/<name>`).
///
/// The crate directory comes from cargo at run time: with a target directory shared
/// between checkouts, cargo reuses a test binary built in another checkout, whose
/// compile-time path points into that other checkout. This crate's own compile-time
/// path is only the fallback, for a test binary run outside cargo.
pub fn workspace() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("../..")
}

/// The bundled sample: logs, inventory and the generator's truth.
pub fn sample_logs() -> PathBuf {
    workspace().join("sample-logs")
}
