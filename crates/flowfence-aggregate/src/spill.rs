//! A shard's sorted entries on disk: what `--memory-limit` moves out of memory while
//! logs are read. A run is written once, sorted by (interface, key) with one entry per
//! key, as an anonymous temporary file (gone with the process), with an index of where
//! each interface's entries start; it is read back whole (to build the table) or one
//! interface at a time through a [`Cursor`] (to write a partial result, streamed).

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};

use crate::direction::{Addr, ConnectionKey, Endpoint, Evidence};
use crate::shard::{Entry, InterfaceIdx};

/// Bytes of one entry on disk: interface 4, protocol 1, two endpoints of 16 + 2, five
/// counters and times of 8, bits 2.
const ENTRY_BYTES: usize = 4 + 1 + 2 * (16 + 2) + 5 * 8 + 2;

/// Sorted entries in a temporary file.
#[derive(Debug)]
pub(crate) struct Run {
    file: File,
    /// Its path, when it was written to a folder to outlive the process (a resumable
    /// job's checkpoint lists it); `None` for an anonymous file.
    path: Option<PathBuf>,
    /// Entries held.
    len: usize,
    /// Each interface's first entry and count, in interface order.
    index: Vec<(InterfaceIdx, usize, usize)>,
}

impl Run {
    /// Writes `entries` (sorted, one per key) to a new anonymous temporary file.
    #[cfg(test)]
    pub(crate) fn write(entries: &[Entry]) -> std::io::Result<Run> {
        Run::write_in(None, entries)
    }

    /// Writes `entries` (sorted, one per key) to a new file: a named one in `dir`, kept
    /// after the process (`run-*.bin`), or an anonymous temporary file.
    pub(crate) fn write_in(dir: Option<&Path>, entries: &[Entry]) -> std::io::Result<Run> {
        let (file, path) = match dir {
            Some(dir) => {
                let (file, path) = tempfile::Builder::new()
                    .prefix("run-")
                    .suffix(".bin")
                    .tempfile_in(dir)?
                    .keep()
                    .map_err(|e| e.error)?;
                (file, Some(path))
            }
            None => (tempfile::tempfile()?, None),
        };
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut index: Vec<(InterfaceIdx, usize, usize)> = Vec::new();
        let mut buf = [0u8; ENTRY_BYTES];
        for (n, entry) in entries.iter().enumerate() {
            let iface = entry.0.0;
            match index.last_mut() {
                Some((i, _, count)) if *i == iface => *count += 1,
                _ => index.push((iface, n, 1)),
            }
            encode(entry, &mut buf);
            out.write_all(&buf)?;
        }
        let file = out.into_inner().map_err(|e| e.into_error())?;
        if path.is_some() {
            // A checkpoint will name it: it must be whole on disk first.
            file.sync_all()?;
        }
        Ok(Run {
            file,
            path,
            len: entries.len(),
            index,
        })
    }

    /// Its file's path, when it has one.
    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The interfaces it holds entries of, in order.
    pub(crate) fn interfaces(&self) -> impl Iterator<Item = InterfaceIdx> + '_ {
        self.index.iter().map(|&(i, _, _)| i)
    }

    /// Every entry, appended to `out` in order.
    pub(crate) fn read_all(&mut self, out: &mut Vec<Entry>) -> std::io::Result<()> {
        self.read_range(0, self.len, out)
    }

    /// A reader of interface `iface`'s entries, in order (none when it has none here).
    pub(crate) fn cursor(&self, iface: InterfaceIdx) -> std::io::Result<Cursor<'_>> {
        let (first, count) = match self.index.binary_search_by_key(&iface, |&(i, _, _)| i) {
            Ok(at) => (self.index[at].1, self.index[at].2),
            Err(_) => (0, 0),
        };
        let mut file = &self.file;
        file.seek(SeekFrom::Start((first * ENTRY_BYTES) as u64))?;
        Ok(Cursor {
            input: BufReader::with_capacity(64 << 10, file),
            left: count,
        })
    }

    fn read_range(
        &mut self,
        first: usize,
        count: usize,
        out: &mut Vec<Entry>,
    ) -> std::io::Result<()> {
        self.file
            .seek(SeekFrom::Start((first * ENTRY_BYTES) as u64))?;
        let mut input = BufReader::with_capacity(1 << 20, &mut self.file);
        let mut buf = [0u8; ENTRY_BYTES];
        out.reserve(count);
        for _ in 0..count {
            input.read_exact(&mut buf)?;
            out.push(decode(&buf));
        }
        Ok(())
    }
}

/// Calls `each` with every entry of the run file at `path`, in order (a run a previous
/// process wrote beside its checkpoint). Fails on a file that isn't a whole number of
/// entries.
pub(crate) fn read_file(path: &Path, mut each: impl FnMut(Entry)) -> std::io::Result<()> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    if len % ENTRY_BYTES as u64 != 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{len} bytes is not a whole number of {ENTRY_BYTES}-byte entries"),
        ));
    }
    let mut input = BufReader::with_capacity(1 << 20, file);
    let mut buf = [0u8; ENTRY_BYTES];
    for _ in 0..len / ENTRY_BYTES as u64 {
        input.read_exact(&mut buf)?;
        each(decode(&buf));
    }
    Ok(())
}

/// One interface's entries of a run, read in order.
pub(crate) struct Cursor<'r> {
    input: BufReader<&'r File>,
    left: usize,
}

impl Cursor<'_> {
    /// The next entry, `None` after the last.
    pub(crate) fn next_entry(&mut self) -> std::io::Result<Option<Entry>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let mut buf = [0u8; ENTRY_BYTES];
        self.input.read_exact(&mut buf)?;
        Ok(Some(decode(&buf)))
    }
}

fn encode(((iface, key), e): &Entry, buf: &mut [u8; ENTRY_BYTES]) {
    let mut at = 0;
    let mut put = |bytes: &[u8]| {
        buf[at..at + bytes.len()].copy_from_slice(bytes);
        at += bytes.len();
    };
    put(&iface.to_le_bytes());
    put(&[key.protocol]);
    for end in [key.a, key.b] {
        put(&end.addr.to_ipv6().octets());
        put(&end.port.to_le_bytes());
    }
    for n in [e.records, e.packets, e.bytes, e.first_seen, e.last_seen] {
        put(&n.to_le_bytes());
    }
    put(&e.bits.to_le_bytes());
}

fn decode(buf: &[u8; ENTRY_BYTES]) -> Entry {
    let mut at = 0;
    let mut take = |n: usize| {
        let bytes = &buf[at..at + n];
        at += n;
        bytes
    };
    let iface = u32::from_le_bytes(take(4).try_into().expect("4 bytes"));
    let protocol = take(1)[0];
    let mut end = || {
        let octets: [u8; 16] = take(16).try_into().expect("16 bytes");
        let addr = Addr::from(IpAddr::V6(Ipv6Addr::from(octets)));
        let port = u16::from_le_bytes(take(2).try_into().expect("2 bytes"));
        Endpoint { addr, port }
    };
    let (a, b) = (end(), end());
    let mut n = || u64::from_le_bytes(take(8).try_into().expect("8 bytes"));
    let (records, packets, bytes, first_seen, last_seen) = (n(), n(), n(), n(), n());
    let bits = u16::from_le_bytes(take(2).try_into().expect("2 bytes"));
    (
        (iface, ConnectionKey { protocol, a, b }),
        Evidence {
            records,
            packets,
            bytes,
            first_seen,
            last_seen,
            bits,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(iface: u32, ip: &str, port: u16, records: u64) -> Entry {
        let addr = |s: &str| Addr::from(s.parse::<IpAddr>().unwrap());
        (
            (
                iface,
                ConnectionKey {
                    protocol: 6,
                    a: Endpoint {
                        addr: addr(ip),
                        port,
                    },
                    b: Endpoint {
                        addr: addr("2001:db8::1"),
                        port: 443,
                    },
                },
            ),
            Evidence {
                records,
                packets: 2 * records,
                bytes: 100 * records,
                first_seen: 1_700_000_000,
                last_seen: 1_700_000_060,
                bits: 0b1010_0101,
            },
        )
    }

    /// Entries read back are the entries written, whole or an interface at a time.
    #[test]
    fn runs_read_back_what_they_hold() {
        let entries = vec![
            entry(1, "10.0.0.1", 40000, 3),
            entry(1, "10.0.0.2", 40001, 1),
            entry(4, "::ffff:10.0.0.3", 40002, 7),
            entry(9, "2001:db8::7", 0, u64::MAX / 128),
        ];
        let mut run = Run::write(&entries).unwrap();
        assert_eq!(run.len(), 4);
        let mut all = Vec::new();
        run.read_all(&mut all).unwrap();
        assert!(all == entries);
        let of = |iface| {
            let mut cursor = run.cursor(iface).unwrap();
            let mut out = Vec::new();
            while let Some(e) = cursor.next_entry().unwrap() {
                out.push(e);
            }
            out
        };
        assert!(of(4) == entries[2..3]);
        assert!(of(5).is_empty());
        assert!(of(1) == entries[..2]);
    }
}
