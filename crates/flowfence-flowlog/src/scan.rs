//! Finds the separators of log text (spaces and newlines) 64 bytes at a time, as bit
//! masks, and lists their positions in order.
//!
//! Why: a decoder that scans each token for its end takes one hard-to-predict branch per
//! token (tokens are 1-30 bytes, and their lengths vary from line to line). Comparing 64
//! bytes at once and walking the set bits of the result finds every token boundary with
//! a branch per 64 bytes instead; the token parsers then work on known bounds.
//!
//! On x86-64 the masks come from SSE2 (part of the architecture, so always there); other
//! targets use the word-at-a-time version, which is also the reference in the tests.

#![allow(unsafe_code)]

/// Marks a newline in [`index`]'s output; the other bits are the position.
pub(crate) const NEWLINE: u32 = 1 << 31;

/// Longest text [`index`] takes at once: positions must stay below [`NEWLINE`].
pub(crate) const MAX_INDEXED: usize = NEWLINE as usize;

/// Appends the positions of the spaces and newlines of `text` to `out`, in order, each
/// relative to the start of `text` and with [`NEWLINE`] set for a newline.
///
/// One pass of mask building and bit walking, apart from the decoding that uses the
/// positions: the loop keeps its state in registers.
pub(crate) fn index(text: &[u8], out: &mut Vec<u32>) {
    assert!(text.len() <= MAX_INDEXED, "index at most 2 GiB at once");
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("popcnt") && std::is_x86_feature_detected!("bmi1") {
        // SAFETY: the CPU has both features (checked just above).
        return unsafe { index_bit_ops(text, out) };
    }
    index_portable(text, out);
}

/// [`index`] compiled with the bit-counting instructions of every x86-64 CPU since about
/// 2013 (the baseline x86-64 target lacks them: a population count was a dozen
/// instructions, and clearing the lowest set bit two).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt,bmi1")]
unsafe fn index_bit_ops(text: &[u8], out: &mut Vec<u32>) {
    index_portable(text, out);
}

#[inline(always)]
fn index_portable(text: &[u8], out: &mut Vec<u32>) {
    let mut chunks = text.chunks_exact(64);
    let mut base = 0u32;
    for chunk in &mut chunks {
        push_chunk(masks(chunk.try_into().expect("64 bytes")), base, out);
        base += 64;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        // Padded with a byte that is no separator.
        let mut chunk = [0u8; 64];
        chunk[..tail.len()].copy_from_slice(tail);
        push_chunk(masks(&chunk), base, out);
    }
}

/// Appends the positions of one chunk's separators, through the spare capacity with a
/// local count (`Vec::push` stored the length and reloaded the pointer every time).
/// Writing a fixed 16 slots per chunk, junk past the last separator, to spare the loop
/// its mispredicted exit, was slower (23.7 -> 31 ms on `decode_block/v5`).
#[inline(always)]
fn push_chunk((spaces, newlines): (u64, u64), base: u32, out: &mut Vec<u32>) {
    let mut pending = spaces | newlines;
    let count = pending.count_ones() as usize;
    out.reserve(64);
    let len = out.len();
    for slot in &mut out.spare_capacity_mut()[..count] {
        let bit = pending.trailing_zeros();
        pending &= pending - 1;
        slot.write((base + bit) | (((newlines >> bit) as u32 & 1) << 31));
    }
    // SAFETY: the first `count` spare slots (at most 64, one per bit) were written above.
    unsafe { out.set_len(len + count) };
}

/// Bit `i` set where `chunk[i]` is a space or a newline; and where it is a newline.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn masks(chunk: &[u8; 64]) -> (u64, u64) {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    let mut spaces = 0u64;
    let mut newlines = 0u64;
    for (i, part) in chunk.chunks_exact(16).enumerate() {
        // SAFETY: SSE2 is part of x86-64; `part` is 16 readable bytes, and the load has
        // no alignment requirement.
        let (s, n) = unsafe {
            let v = _mm_loadu_si128(part.as_ptr().cast::<__m128i>());
            (
                _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b' ' as i8))),
                _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'\n' as i8))),
            )
        };
        spaces |= u64::from(s as u16) << (16 * i);
        newlines |= u64::from(n as u16) << (16 * i);
    }
    (spaces, newlines)
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn masks(chunk: &[u8; 64]) -> (u64, u64) {
    words_masks(chunk)
}

/// [`masks`] eight bytes at a time with integer arithmetic.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn words_masks(chunk: &[u8; 64]) -> (u64, u64) {
    /// Bit `i` set where byte `i` of `word` equals `byte`.
    fn equal(word: u64, byte: u8) -> u64 {
        let x = word ^ (0x0101_0101_0101_0101 * u64::from(byte));
        // Exact per byte (no borrow between bytes): the high bit of each zero byte.
        let zero = !(((x & 0x7F7F_7F7F_7F7F_7F7F) + 0x7F7F_7F7F_7F7F_7F7F) | x);
        // Gather the eight high bits into the low byte.
        ((zero & 0x8080_8080_8080_8080) >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
    }
    let mut spaces = 0u64;
    let mut newlines = 0u64;
    for (i, word) in chunk.chunks_exact(8).enumerate() {
        let word = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        spaces |= equal(word, b' ') << (8 * i);
        newlines |= equal(word, b'\n') << (8 * i);
    }
    (spaces, newlines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_separator_in_order() {
        // Bytes near a separator in value, high bytes, and runs of separators across
        // chunk borders.
        let mut text = Vec::new();
        for i in 0..700u32 {
            text.extend_from_slice(b"ab\x1f!\x0b\xa0\x8a\xff ");
            text.extend(std::iter::repeat_n(b'x', (i % 70) as usize));
            text.push(if i % 3 == 0 { b'\n' } else { b' ' });
            if i % 11 == 0 {
                text.extend_from_slice(b"  \n\n ");
            }
        }
        for from in [0, 1, 63, 64, 65, 1000, text.len() - 3, text.len()] {
            let text = &text[from..];
            let expected: Vec<u32> = (0..text.len() as u32)
                .filter_map(|at| match text[at as usize] {
                    b' ' => Some(at),
                    b'\n' => Some(at | NEWLINE),
                    _ => None,
                })
                .collect();
            let mut got = vec![7];
            index(text, &mut got);
            assert_eq!(got[0], 7, "appends");
            assert_eq!(got[1..], expected, "from {from}");
        }
    }

    #[test]
    fn word_masks_agree_with_the_simd_ones() {
        let mut chunk = [0u8; 64];
        for seed in 0..2000u32 {
            for (i, b) in chunk.iter_mut().enumerate() {
                let r = (seed.wrapping_mul(2_654_435_761) ^ (i as u32).wrapping_mul(40_503)) >> 7;
                *b = match r % 5 {
                    0 => b' ',
                    1 => b'\n',
                    _ => r as u8,
                };
            }
            assert_eq!(masks(&chunk), words_masks(&chunk));
        }
    }
}
