//! The allocator's one setting flowfence changes.
//!
//! glibc serves a large allocation (past its mmap threshold) from its own mapping, and
//! raises the threshold, up to 32 MiB, each time such a block is freed. After that, the
//! evidence store's large buffers (grown, compacted and spilled again and again under a
//! memory limit) come from the heap, where the freed ones are left as holes that later
//! ones don't fit: 8 h of growing logs under `--memory-limit 64M` peaked at 153 MB,
//! against 113 MB with the threshold held at 1 MiB (2 h: 101 MB and 96 MB), and the
//! aggregation took the same time. Holding it keeps memory bounded by the limit, not by
//! the length of the run.
#![allow(unsafe_code)]

/// Holds glibc's mmap threshold at 1 MiB (setting it stops its adjustment).
pub(crate) fn hold_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before any other
    // thread exists, and an unaccepted value is refused (returns 0), not undefined.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
