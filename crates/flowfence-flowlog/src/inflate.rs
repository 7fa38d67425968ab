//! Whole-buffer gzip inflation with libdeflate, the fast path for `.log.gz` objects.
//!
//! libdeflate inflates about twice as fast as streaming zlib implementations, but needs the
//! whole input and an output buffer large enough for each member. S3 delivers flow logs in
//! objects of at most 75 MB, so reading one whole is fine; anything libdeflate can't take
//! (a damaged stream, an output beyond [`MAX_OUTPUT`]) is left to the streaming decoder,
//! which recovers every whole line before the damage.
//!
//! This is the crate's only `unsafe` code: the safe `libdeflater` wrapper doesn't expose
//! `libdeflate_gzip_decompress_ex`, which reports how much input a member used and so is
//! the only way to walk a multi-member file.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::ptr::NonNull;

use libdeflate_sys::{
    libdeflate_alloc_decompressor, libdeflate_decompressor, libdeflate_free_decompressor,
    libdeflate_gzip_decompress_ex, libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE,
    libdeflate_result_LIBDEFLATE_SUCCESS,
};

/// Largest output inflated in one buffer (1 GiB); larger streams go through the streaming
/// decoder so memory stays bounded.
pub(crate) const MAX_OUTPUT: usize = 1 << 30;

/// Largest buffer kept for reuse.
const MAX_RECYCLED: usize = 256 << 20;

/// A libdeflate decompressor (about 32 KiB of tables), freed on drop.
struct Decompressor(NonNull<libdeflate_decompressor>);

impl Decompressor {
    fn new() -> Option<Decompressor> {
        // SAFETY: no preconditions; a null return (out of memory) is handled.
        NonNull::new(unsafe { libdeflate_alloc_decompressor() }).map(Decompressor)
    }

    /// Inflates the gzip member at the start of `input`, appending to `out` within its
    /// spare capacity. Returns the input used, `Err(true)` when the spare capacity is too
    /// small, `Err(false)` on bad data.
    fn member(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, bool> {
        let mut used = 0usize;
        let mut written = 0usize;
        let spare = out.spare_capacity_mut();
        // SAFETY: the pointers and lengths describe live, correctly sized buffers for the
        // duration of the call (`spare` is the vector's unused capacity); libdeflate reads
        // at most `input.len()` bytes and writes at most `spare.len()`; the decompressor
        // is not shared.
        let result = unsafe {
            libdeflate_gzip_decompress_ex(
                self.0.as_ptr(),
                input.as_ptr().cast::<c_void>(),
                input.len(),
                spare.as_mut_ptr().cast::<c_void>(),
                spare.len(),
                &mut used,
                &mut written,
            )
        };
        match result {
            r if r == libdeflate_result_LIBDEFLATE_SUCCESS => {
                debug_assert!(written <= spare.len());
                // SAFETY: on success libdeflate has initialised the first `written` bytes
                // of the spare capacity, and `written <= spare.len()`.
                unsafe { out.set_len(out.len() + written) };
                Ok(used)
            }
            r if r == libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE => Err(true),
            _ => Err(false),
        }
    }
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: allocated by libdeflate_alloc_decompressor, freed exactly once.
        unsafe { libdeflate_free_decompressor(self.0.as_ptr()) }
    }
}

/// Output buffers handed back, for the next files to inflate into (fresh buffers cost
/// page faults worth as much as a tenth of the inflation). Shared by all threads: when
/// one thread reads ahead in waves, the texts come back on the thread that consumed
/// them, not the one that inflates, and a per-thread spare sat unused while every file
/// faulted in a new buffer.
static SPARES: Spares = Spares::new();

/// A few buffers kept for reuse, the largest first out.
struct Spares(std::sync::Mutex<Vec<Vec<u8>>>);

impl Spares {
    const fn new() -> Spares {
        Spares(std::sync::Mutex::new(Vec::new()))
    }

    /// The largest buffer kept (emptied), or a new one.
    fn take(&self) -> Vec<u8> {
        let spare = self.0.lock().ok().and_then(|mut spares| {
            let largest = (0..spares.len()).max_by_key(|&i| spares[i].capacity())?;
            Some(spares.swap_remove(largest))
        });
        let mut buffer = spare.unwrap_or_default();
        buffer.clear();
        buffer
    }

    /// Keeps `buffer` if fewer than `kept` are kept, or in place of a smaller one.
    fn give(&self, buffer: Vec<u8>, kept: usize) {
        // Keep what a typical object needs, not the largest file ever seen.
        if buffer.capacity() > MAX_RECYCLED || buffer.capacity() == 0 {
            return;
        }
        let Ok(mut spares) = self.0.lock() else {
            return;
        };
        if spares.len() < kept {
            spares.push(buffer);
        } else if let Some(smallest) = spares.iter_mut().min_by_key(|b| b.capacity())
            && smallest.capacity() < buffer.capacity()
        {
            *smallest = buffer;
        }
    }
}

/// The largest spare buffer (empty), or a new one.
pub(crate) fn take_spare() -> Vec<u8> {
    SPARES.take()
}

/// Hands a buffer back for the next [`gunzip`] (or whole-file read), on any thread.
/// Kept: one per worker in flight, and one more for the file read ahead.
pub(crate) fn recycle(buffer: Vec<u8>) {
    SPARES.give(buffer, rayon::current_num_threads() + 1);
}

/// Inflates every member of a gzip file held in memory. `None` when the data is damaged
/// or would inflate beyond [`MAX_OUTPUT`]: the caller then streams it instead.
pub(crate) fn gunzip(input: &[u8]) -> Option<Vec<u8>> {
    let mut decompressor = Decompressor::new()?;
    // ISIZE, the last member's size mod 2^32: exact for the usual single-member file.
    let hint = input
        .len()
        .checked_sub(4)
        .map(|at| u32::from_le_bytes(input[at..].try_into().expect("4 bytes")) as usize)?;
    let mut out = take_spare();
    // The trailer is only a claim: DEFLATE can't expand more than 1032:1, so a small,
    // damaged file never gets a huge buffer.
    let plausible = input.len().saturating_mul(1032);
    out.reserve(hint.min(plausible).clamp(64 * 1024, MAX_OUTPUT));
    let mut read = 0usize;
    while read < input.len() {
        match decompressor.member(&input[read..], &mut out) {
            Ok(used) => read += used,
            Err(true) if out.capacity() < MAX_OUTPUT => {
                // `reserve` counts from the length: ask for double the capacity.
                let target = (out.capacity() * 2).min(MAX_OUTPUT);
                out.reserve(target - out.len());
            }
            Err(_) => {
                recycle(out);
                return None;
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::gzip;

    /// A buffer handed back on one thread is taken on another; the largest are kept,
    /// at most as many as asked, and oversized or empty ones never.
    #[test]
    fn spares_cross_threads_and_stay_bounded() {
        let spares = Spares::new();
        std::thread::scope(|s| {
            s.spawn(|| spares.give(Vec::with_capacity(1000), 2));
        });
        let taken = spares.take();
        assert_eq!(taken.capacity(), 1000);
        for capacity in [10, 40, 20, 30, MAX_RECYCLED + 1, 0] {
            spares.give(Vec::with_capacity(capacity), 2);
        }
        let kept: Vec<usize> = std::iter::repeat_with(|| spares.take().capacity())
            .take(3)
            .collect();
        assert_eq!(kept, [40, 30, 0]);
    }

    #[test]
    fn single_and_multi_member() {
        let one: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        assert_eq!(gunzip(&gzip(&one)).unwrap(), one);
        // A small last member makes the size hint far too small for the first one.
        let mut multi = gzip(&one);
        multi.extend(gzip(b"tail\n"));
        let mut want = one.clone();
        want.extend_from_slice(b"tail\n");
        assert_eq!(gunzip(&multi).unwrap(), want);
        assert_eq!(gunzip(&gzip(b"")).unwrap(), b"");
    }

    #[test]
    fn damaged_data_is_left_to_the_streaming_decoder() {
        let data = gzip(&b"some text\n".repeat(10_000));
        assert_eq!(gunzip(&data[..data.len() / 2]), None);
        let mut corrupt = data.clone();
        corrupt[data.len() / 2] ^= 0xff;
        assert_eq!(gunzip(&corrupt), None);
        let mut trailing = data;
        trailing.extend_from_slice(b"garbage");
        assert_eq!(gunzip(&trailing), None);
        assert_eq!(gunzip(b"\x1f\x8b"), None);
    }
}
