//! Opening a source: compression and format detection, and the block reader that turns a
//! byte stream into newline-aligned blocks for the decoder.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::str::FromStr;

use bytes::Bytes;
use flate2::bufread::MultiGzDecoder;

use crate::inflate;

use crate::source::Source;

/// How a source's content is to be read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InputFormat {
    /// Decide from the content: Parquet magic, JSON, or text. Gzip is always detected.
    #[default]
    Auto,
    /// Space-separated flow log lines (S3 text delivery, exports).
    Text,
    /// CloudWatch Logs JSON: subscription `DATA_MESSAGE` documents, `filter-log-events`
    /// or `get-log-events` output.
    CloudWatchJson,
    /// One JSON object per line with the record in `message`.
    JsonLines,
    /// Apache Parquet, as S3 delivers it (columns named with `_`).
    Parquet,
    /// Amazon Security Lake's OCSF Network Activity Parquet (also detected from the
    /// schema under `parquet` and `auto`); any other Parquet file is an error.
    Ocsf,
}

impl FromStr for InputFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "auto" => InputFormat::Auto,
            "text" => InputFormat::Text,
            "cloudwatch-json" => InputFormat::CloudWatchJson,
            "json-lines" => InputFormat::JsonLines,
            "parquet" => InputFormat::Parquet,
            "ocsf" => InputFormat::Ocsf,
            _ => {
                return Err(format!(
                    "unknown input format `{s}` (auto, text, cloudwatch-json, json-lines, parquet, ocsf)"
                ));
            }
        })
    }
}

/// A source opened and identified.
pub(crate) enum Opened {
    /// Text lines (possibly decompressed on the fly).
    Text(BlockReader),
    /// A JSON envelope, read whole (possibly decompressed).
    Json(Bytes),
    /// Parquet bytes or file.
    Parquet(ParquetInput),
}

/// Where Parquet data is: a file, or stdin read into memory (Parquet needs to seek).
pub(crate) enum ParquetInput {
    File(File),
    Bytes(bytes::Bytes),
}

/// Gzip magic.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Parquet magic.
const PARQUET_MAGIC: &[u8; 4] = b"PAR1";
/// Read buffer for files and decompressors.
const READ_BUFFER: usize = 256 * 1024;

/// Opens `source`, detects gzip, Parquet and JSON, and returns it ready to read.
pub(crate) fn open(source: &Source, format: InputFormat) -> io::Result<Opened> {
    let raw: Box<dyn Read + Send> = match source {
        Source::File(path) => Box::new(File::open(path)?),
        Source::Stdin => Box::new(io::stdin()),
        Source::Memory { data, .. } => Box::new(io::Cursor::new(data.clone())),
    };
    let mut raw = BufReader::with_capacity(READ_BUFFER, raw);
    let head = peek(&mut raw, 4)?;
    if head.starts_with(PARQUET_MAGIC) || matches!(format, InputFormat::Parquet | InputFormat::Ocsf)
    {
        return Ok(Opened::Parquet(match source {
            Source::File(path) => ParquetInput::File(File::open(path)?),
            Source::Memory { data, .. } => ParquetInput::Bytes(data.clone()),
            Source::Stdin => {
                let mut all = Vec::new();
                raw.read_to_end(&mut all)?;
                ParquetInput::Bytes(all.into())
            }
        }));
    }
    if !head.starts_with(&GZIP_MAGIC) {
        if let Source::Memory { data, .. } = source {
            return classify_memory(data.clone(), format);
        }
        // Streamed in blocks through recycled buffers: reading a large file whole would
        // pay for as many fresh (zeroed) pages as the file has bytes.
        return classify(Box::new(raw), format);
    }
    let stored_size = match source {
        Source::File(path) => std::fs::metadata(path)?.len(),
        Source::Memory { data, .. } => data.len() as u64,
        Source::Stdin => u64::MAX,
    };
    // Gzip: inflate whole with libdeflate when the source has a known, bounded size;
    // stream otherwise, and whenever libdeflate refuses (damage is then reported with
    // every whole line before it kept).
    let compressed: Box<dyn Read + Send> = if stored_size <= MAX_WHOLE_GZIP {
        let mut all = Vec::with_capacity(stored_size as usize);
        raw.read_to_end(&mut all)?;
        if let Some(text) = inflate::gunzip(&all) {
            return classify_memory(Bytes::from(text), format);
        }
        Box::new(io::Cursor::new(all))
    } else {
        Box::new(raw)
    };
    let stream = MultiGzDecoder::new(BufReader::with_capacity(READ_BUFFER, compressed));
    classify(
        Box::new(BufReader::with_capacity(READ_BUFFER, stream)),
        format,
    )
}

/// Gzip files up to this size are read whole and inflated with libdeflate (AWS's objects
/// are at most 75 MB).
const MAX_WHOLE_GZIP: u64 = 256 << 20;

/// JSON or text, from the first non-blank byte (unless the format says).
fn is_json(format: InputFormat, head: &[u8]) -> bool {
    match format {
        InputFormat::CloudWatchJson | InputFormat::JsonLines => true,
        InputFormat::Text => false,
        InputFormat::Auto | InputFormat::Parquet | InputFormat::Ocsf => matches!(
            head.iter().find(|b| !b.is_ascii_whitespace()),
            Some(b'{' | b'[')
        ),
    }
}

fn classify(mut content: Box<dyn BufRead + Send>, format: InputFormat) -> io::Result<Opened> {
    if is_json(format, &peek(&mut content, 64)?) {
        let mut all = Vec::new();
        content.read_to_end(&mut all)?;
        Ok(Opened::Json(all.into()))
    } else {
        Ok(Opened::Text(BlockReader::new(content)))
    }
}

fn classify_memory(text: Bytes, format: InputFormat) -> io::Result<Opened> {
    if is_json(format, &text[..text.len().min(64)]) {
        Ok(Opened::Json(text))
    } else {
        Ok(Opened::Text(BlockReader::memory(text)))
    }
}

/// Returns up to `n` bytes from the front of the stream without consuming them (fewer at
/// end of input).
fn peek<R: BufRead + ?Sized>(reader: &mut R, n: usize) -> io::Result<Vec<u8>> {
    let buf = reader.fill_buf()?;
    Ok(buf[..buf.len().min(n)].to_vec())
}

/// What [`BlockReader::next_block`] produced.
#[derive(Debug)]
pub(crate) enum Next {
    /// The block holds whole lines (the last one of the input may lack its newline).
    Block,
    /// No more input.
    End,
    /// Reading failed. The block holds the whole lines read before the failure;
    /// `partial_line` says whether an incomplete line was cut off after them.
    Failed {
        error: io::Error,
        partial_line: bool,
    },
}

/// Splits text into newline-aligned blocks of about `block_size` bytes: read from a
/// stream, or sliced (without copying) from text already in memory.
pub(crate) struct BlockReader {
    source: BlockSource,
    block_size: usize,
}

impl Drop for BlockReader {
    fn drop(&mut self) {
        // Text inflated into memory: if no block of it is still alive elsewhere, keep the
        // buffer for the next file this thread inflates.
        if let BlockSource::Memory { text, .. } = &mut self.source
            && let Ok(buffer) = std::mem::take(text).try_into_mut()
        {
            inflate::recycle(buffer.into());
        }
    }
}

enum BlockSource {
    Stream {
        inner: Box<dyn BufRead + Send>,
        carry: Vec<u8>,
        done: bool,
    },
    Memory {
        text: Bytes,
        pos: usize,
    },
}

/// Default block size: large enough to amortise per-block work, small enough that a few
/// blocks per thread stay cheap in memory.
pub(crate) const BLOCK_SIZE: usize = 4 * 1024 * 1024;

impl BlockReader {
    pub(crate) fn new(inner: Box<dyn BufRead + Send>) -> BlockReader {
        BlockReader::with_block_size(inner, BLOCK_SIZE)
    }

    pub(crate) fn with_block_size(
        inner: Box<dyn BufRead + Send>,
        block_size: usize,
    ) -> BlockReader {
        BlockReader {
            source: BlockSource::Stream {
                inner,
                carry: Vec::new(),
                done: false,
            },
            block_size: block_size.max(1),
        }
    }

    pub(crate) fn memory(text: Bytes) -> BlockReader {
        BlockReader {
            source: BlockSource::Memory { text, pos: 0 },
            block_size: BLOCK_SIZE,
        }
    }

    /// Changes the block size for the blocks still to come.
    pub(crate) fn set_block_size(&mut self, block_size: usize) {
        self.block_size = block_size.max(1);
    }

    /// Sets `block` to the next whole lines.
    pub(crate) fn next_block(&mut self, block: &mut Bytes) -> Next {
        match &mut self.source {
            BlockSource::Memory { text, pos } => {
                if *pos >= text.len() {
                    *block = Bytes::new();
                    return Next::End;
                }
                let want = (*pos + self.block_size).min(text.len());
                // End after the first newline at or past the target size.
                let end = match memchr::memchr(b'\n', &text[want.saturating_sub(1)..]) {
                    Some(i) if want < text.len() => want - 1 + i + 1,
                    _ => text.len(),
                };
                *block = text.slice(*pos..end);
                *pos = end;
                Next::Block
            }
            BlockSource::Stream { inner, carry, done } => {
                let mut buf = take_block_buffer();
                let next = next_stream_block(inner, carry, done, self.block_size, &mut buf);
                *block = Bytes::from(buf);
                next
            }
        }
    }
}

/// Block buffers handed back after decoding, for the next blocks to be read into (fresh
/// buffers cost page faults and zeroing worth a third of the reading time).
static BLOCK_BUFFERS: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());

/// Buffers kept for reuse: enough for the blocks of a wave and the one read ahead.
const KEPT_BUFFERS: usize = 32;

fn take_block_buffer() -> Vec<u8> {
    let recycled = BLOCK_BUFFERS
        .lock()
        .map(|mut pool| pool.pop())
        .unwrap_or_default();
    recycled.unwrap_or_default()
}

/// Returns a decoded block's buffer for reuse, if nothing else still holds it. The last
/// block of text inflated in memory can hold that whole text (its reader was dropped
/// while the block was decoded, as in a wave): that buffer goes back to
/// [`inflate::recycle`], which inflation draws from. Only streamed blocks are taken from
/// this pool, so a whole text kept here would be held until the process ends (32 files'
/// worth, 350 MB on 11 MB objects read by one thread).
pub(crate) fn recycle_block(block: Bytes) {
    let Ok(mut buffer) = block.try_into_mut() else {
        return;
    };
    // Emptied first: a slice's bytes would otherwise be moved to the buffer's front.
    buffer.clear();
    let buffer: Vec<u8> = buffer.into();
    if buffer.capacity() > 2 * BLOCK_SIZE {
        inflate::recycle(buffer);
        return;
    }
    if let Ok(mut pool) = BLOCK_BUFFERS.lock()
        && pool.len() < KEPT_BUFFERS
    {
        pool.push(buffer);
    }
}

/// Reads the next whole lines of a stream into `block`.
fn next_stream_block(
    inner: &mut Box<dyn BufRead + Send>,
    carry: &mut Vec<u8>,
    done: &mut bool,
    block_size: usize,
    block: &mut Vec<u8>,
) -> Next {
    block.clear();
    if *done {
        return Next::End;
    }
    block.append(carry);
    block.reserve(block_size.saturating_sub(block.len()));
    loop {
        let want = block_size.saturating_sub(block.len()).max(64 * 1024);
        let before = block.len();
        let read = inner.take(want as u64).read_to_end(block);
        match read {
            Err(error) => {
                *done = true;
                let whole = memchr::memrchr(b'\n', block).map_or(0, |nl| nl + 1);
                let partial_line = whole < block.len();
                block.truncate(whole);
                return Next::Failed {
                    error,
                    partial_line,
                };
            }
            Ok(n) if n < want => {
                *done = true;
                return if block.is_empty() {
                    Next::End
                } else {
                    Next::Block
                };
            }
            Ok(_) => {
                // Split after the last newline read so far; a line longer than a block
                // makes the block grow until its end is found.
                if let Some(nl) = memchr::memrchr(b'\n', &block[before..]) {
                    let cut = before + nl + 1;
                    carry.extend_from_slice(&block[cut..]);
                    block.truncate(cut);
                    return Next::Block;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::gzip;

    /// The blocks of `data`, read both ways: streamed, and sliced from memory.
    fn blocks(data: &[u8], size: usize) -> [Vec<String>; 2] {
        let streamed = BlockReader::with_block_size(Box::new(io::Cursor::new(data.to_vec())), size);
        let mut sliced = BlockReader::memory(Bytes::copy_from_slice(data));
        sliced.set_block_size(size);
        [streamed, sliced].map(|mut r| {
            let mut out = Vec::new();
            let mut block = Bytes::new();
            loop {
                match r.next_block(&mut block) {
                    Next::Block => out.push(String::from_utf8(block.to_vec()).unwrap()),
                    Next::End => return out,
                    Next::Failed { error, .. } => panic!("{error}"),
                }
            }
        })
    }

    /// The last block of an inflated text brings back the whole text's buffer: it must
    /// not be kept in the pool of streamed block buffers, which only streams draw from.
    #[test]
    fn whole_texts_are_not_pooled_as_block_buffers() {
        let text: Vec<u8> = (0..3 * BLOCK_SIZE)
            .map(|i| if i % 100 == 99 { b'\n' } else { b'x' })
            .collect();
        let mut reader = BlockReader::memory(Bytes::from(text));
        let mut block = Bytes::new();
        let mut blocks = Vec::new();
        while let Next::Block = reader.next_block(&mut block) {
            blocks.push(std::mem::take(&mut block));
        }
        assert!(blocks.len() > 1);
        drop(reader);
        for block in blocks {
            recycle_block(block);
        }
        let pool = BLOCK_BUFFERS.lock().unwrap();
        assert!(pool.iter().all(|b| b.capacity() <= 2 * BLOCK_SIZE));
    }

    #[test]
    fn blocks_end_on_newlines_and_keep_every_byte() {
        let text: String = (0..50_000).map(|i| format!("line {i}\n")).collect();
        let text = text + "last line without newline";
        for got in blocks(text.as_bytes(), 100_000) {
            assert!(got.len() > 2);
            for b in &got[..got.len() - 1] {
                assert!(b.ends_with('\n'));
            }
            assert_eq!(got.concat(), text);
        }
    }

    #[test]
    fn a_line_longer_than_a_block_is_kept_whole() {
        let long = "x".repeat(200_000);
        let text = format!("a\n{long}\nb\n");
        for got in blocks(text.as_bytes(), 1000) {
            assert_eq!(got.concat(), text);
            assert!(got.iter().any(|b| b.contains(&long)));
        }
    }

    #[test]
    fn multi_member_gzip_reads_every_member() {
        let mut data = gzip(b"one\ntwo\n");
        data.extend(gzip(b"three\n"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log.gz");
        std::fs::write(&path, data).unwrap();
        let Opened::Text(mut r) = open(&Source::File(path), InputFormat::Auto).unwrap() else {
            panic!("not text")
        };
        let mut block = Bytes::new();
        assert!(matches!(r.next_block(&mut block), Next::Block));
        assert_eq!(&block[..], b"one\ntwo\nthree\n");
    }

    #[test]
    fn truncated_gzip_keeps_whole_lines_and_reports_the_cut() {
        let text: String = (0..20_000).map(|i| format!("line number {i}\n")).collect();
        let data = gzip(text.as_bytes());
        let cut = &data[..data.len() * 2 / 3];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.log.gz");
        std::fs::write(&path, cut).unwrap();
        let Opened::Text(mut r) = open(&Source::File(path), InputFormat::Auto).unwrap() else {
            panic!("not text")
        };
        let mut all = Vec::new();
        let mut block = Bytes::new();
        let failure = loop {
            match r.next_block(&mut block) {
                Next::Block => all.extend_from_slice(&block),
                Next::End => panic!("a truncated stream must not end cleanly"),
                Next::Failed {
                    error,
                    partial_line,
                } => {
                    all.extend_from_slice(&block);
                    break (error, partial_line);
                }
            }
        };
        assert!(!all.is_empty());
        assert!(text.as_bytes().starts_with(&all));
        assert!(all.ends_with(b"\n"));
        let (error, _) = failure;
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof, "{error}");
        // The whole lines are exactly the text's first lines; the rest was cut.
        assert!(all.len() < text.len());
        let next = &text.as_bytes()[all.len()..];
        assert!(!next.is_empty());
    }
}
