//! A cache prefetch hint, for merges that read many runs at once.

#![allow(unsafe_code)]

/// Asks the CPU to bring `item`'s cache lines in ahead of use. Only a hint: it reads
/// nothing and cannot fault, and does nothing off x86-64.
#[inline(always)]
pub(crate) fn prefetch<T>(item: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let start: *const i8 = (item as *const T).cast();
        // Every line the item spans: its first byte, then one per 64 bytes, and its last.
        let mut offset = 0;
        while offset < size_of::<T>() {
            // SAFETY: SSE is part of x86-64; a prefetch of any address is architecturally
            // harmless, and these lie within `item`.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(offset)) };
            offset += 64;
        }
        // SAFETY: as above; the item's last byte.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(size_of::<T>() - 1)) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = item;
}
