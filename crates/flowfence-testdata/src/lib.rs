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

/// The shared test data's `part` (`conformance`, `inventory-samples`): under
/// `FLOWFENCE_SHARED`, else `../shared` beside the workspace. `None` when it isn't
/// there: a fresh clone has no `../shared`, and its tests say they skipped the cases
/// that need it. With `FLOWFENCE_REQUIRE_SHARED=1` (CI sets it) its absence fails.
pub fn shared(part: &str) -> Option<PathBuf> {
    let root = std::env::var_os("FLOWFENCE_SHARED")
        .map_or_else(|| workspace().join("../shared"), PathBuf::from);
    let dir = root.join(part);
    if dir.is_dir() {
        return Some(dir);
    }
    let required = std::env::var_os("FLOWFENCE_REQUIRE_SHARED").is_some_and(|v| v == "1");
    assert!(
        !required,
        "shared test data not found at {} (set FLOWFENCE_SHARED to the shared folder)",
        dir.display()
    );
    eprintln!(
        "skipped: shared test data not found at {} (set FLOWFENCE_SHARED to run these cases; CI requires them)",
        dir.display()
    );
    None
}
