//! A shard's rows on disk, when the store spilled: rows grow with the peers (one per
//! internet address met), so past the memory limit a shard's rows being summed are
//! written out, sorted in the table's order, as a run in an anonymous temporary file,
//! and the runs are merged back as the table is written. A row's distinct peer ports
//! travel as a sorted set, so rows that two runs both hold merge exactly.

use std::borrow::Borrow;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use crate::direction::{Basis, Outcome};
use crate::shard::InterfaceIdx;
use crate::table::{Peer, PeerKind, Side};

/// What reading back a run can fail on: its own temporary file, so only the system.
const READ_BACK: &str = "reading back spilled rows (an anonymous temporary file of this process)";

/// Sums over a row's connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Acc {
    pub(crate) flows: u64,
    pub(crate) packets: u64,
    pub(crate) bytes: u64,
    pub(crate) first_seen: u64,
    pub(crate) last_seen: u64,
    /// Connections per [`Basis`], by its index.
    pub(crate) bases: [u64; 6],
}

impl Acc {
    /// Nothing summed yet.
    pub(crate) const EMPTY: Acc = Acc {
        flows: 0,
        packets: 0,
        bytes: 0,
        first_seen: u64::MAX,
        last_seen: 0,
        bases: [0; 6],
    };

    /// Adds another row's sums.
    pub(crate) fn merge(&mut self, other: &Acc) {
        self.flows += other.flows;
        self.packets += other.packets;
        self.bytes += other.bytes;
        self.first_seen = self.first_seen.min(other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
        for (b, o) in self.bases.iter_mut().zip(other.bases) {
            *b += o;
        }
    }

    /// The basis most of the row's connections were decided on (the weaker on ties).
    pub(crate) fn basis(&self) -> Basis {
        Basis::ALL
            .iter()
            .copied()
            .max_by_key(|b| (self.bases[*b as usize], *b))
            .expect("six bases")
    }
}

/// A row as a run holds it: its interface (by id and by its rank in the table's order),
/// its key, its outcome (attempts that never opened are rows here too), its sums and its
/// peer ports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RowRecord {
    pub(crate) rank: u32,
    pub(crate) iface: InterfaceIdx,
    pub(crate) side: Side,
    pub(crate) protocol: u8,
    pub(crate) port: u16,
    /// The peer's kind, and the peer as the table spells it (rows compare by it, and
    /// spelling an address for every comparison was most of merging runs).
    pub(crate) peer_kind: PeerKind,
    pub(crate) peer_text: String,
    pub(crate) outcome: Outcome,
    pub(crate) acc: Acc,
    /// Distinct peer ports, sorted.
    pub(crate) ports: Vec<u16>,
}

impl RowRecord {
    /// The table's order (interface rank, side, protocol, port, peer kind, peer as
    /// spelled), then the outcome: the order rows are sorted in everywhere.
    pub(crate) fn cmp_key(&self, other: &RowRecord) -> Ordering {
        self.row_key()
            .cmp(&other.row_key())
            .then_with(|| self.outcome.cmp(&other.outcome))
    }

    /// Whether `other` is the same row but perhaps for the outcome.
    pub(crate) fn same_row(&self, other: &RowRecord) -> bool {
        self.row_key() == other.row_key()
    }

    /// The row's place in the table's order, its outcome aside.
    fn row_key(&self) -> (u32, Side, u8, u16, PeerKind, &[u8]) {
        (
            self.rank,
            self.side,
            self.protocol,
            self.port,
            self.peer_kind,
            self.peer_text.as_bytes(),
        )
    }

    /// The peer, typed.
    pub(crate) fn peer(&self) -> Peer {
        Peer::parse(self.peer_kind, &self.peer_text)
            .expect("a peer spelled by flowfence reads back")
    }

    /// Adds the same row's sums and ports from another run.
    fn merge(&mut self, other: RowRecord) {
        self.acc.merge(&other.acc);
        let mut ports = Vec::with_capacity(self.ports.len() + other.ports.len());
        let (mut a, mut b) = (self.ports.iter().peekable(), other.ports.iter().peekable());
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x < y => a.next(),
                (Some(x), Some(y)) if x > y => b.next(),
                (Some(_), Some(_)) => {
                    b.next();
                    a.next()
                }
                (Some(_), None) => a.next(),
                (None, Some(_)) => b.next(),
                (None, None) => break,
            };
            ports.extend(next);
        }
        self.ports = ports;
    }
}

/// The anonymous temporary file a shard's runs are appended to: one file for all of
/// them, read and written at positions, since creating a file per run (thousands under
/// a tight limit) cost the file system more than writing them.
#[derive(Debug, Default)]
pub(crate) struct RunFile {
    /// The file (made at the first run) and where the next run starts.
    file: Option<(Arc<File>, u64)>,
}

impl RunFile {
    /// Appends `rows` (sorted, one per key) as a run.
    fn append<R: Borrow<RowRecord>>(
        &mut self,
        rows: impl Iterator<Item = R>,
    ) -> std::io::Result<RowRun> {
        if self.file.is_none() {
            self.file = Some((Arc::new(tempfile::tempfile()?), 0));
        }
        let (file, end) = self.file.as_mut().expect("made above");
        let mut out = BufWriter::with_capacity(
            256 << 10,
            At {
                file: Arc::clone(file),
                pos: *end,
            },
        );
        let (mut buf, mut len) = (Vec::new(), 0);
        for row in rows {
            buf.clear();
            encode(row.borrow(), &mut buf);
            out.write_all(&buf)?;
            len += 1;
        }
        let written = out.into_inner().map_err(|e| e.into_error())?;
        let run = RowRun::File {
            file: Arc::clone(file),
            start: *end,
            len,
        };
        *end = written.pos;
        Ok(run)
    }
}

/// A file read or written from a position of its own (a run's), whatever other runs of
/// the file do.
struct At {
    file: Arc<File>,
    pos: u64,
}

impl Read for At {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Write for At {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Rows sorted by [`RowRecord::cmp_key`], one per key: a stretch of a shard's
/// [`RunFile`], or kept in memory (the rows summed last, or a run that couldn't be
/// written).
#[derive(Debug)]
pub(crate) enum RowRun {
    File {
        file: Arc<File>,
        /// Where it starts in the file, and its rows.
        start: u64,
        len: usize,
    },
    Memory(Vec<RowRecord>),
}

impl RowRun {
    /// Appends `rows` (sorted, one per key) to `file`; when that fails, the rows stay in
    /// memory and the error comes back beside them.
    pub(crate) fn spill(
        file: &mut RunFile,
        rows: Vec<RowRecord>,
    ) -> (RowRun, Option<std::io::Error>) {
        // Written by reference: the rows stay whole until the run is.
        match file.append(rows.iter()) {
            Ok(run) => (run, None),
            Err(e) => (RowRun::Memory(rows), Some(e)),
        }
    }

    /// Appends the rows `merge` gives to `file`: many runs made one, so a long build
    /// merges few runs at the end.
    pub(crate) fn merged(file: &mut RunFile, mut merge: RowMerge) -> RowRun {
        file.append(std::iter::from_fn(|| merge.next_row()))
            .expect("merging spilled rows (an anonymous temporary file of this process)")
    }

    /// `rows` (sorted, one per key), kept in memory.
    pub(crate) fn in_memory(rows: Vec<RowRecord>) -> RowRun {
        RowRun::Memory(rows)
    }

    /// A reader of its rows, in order (a run is read once).
    fn into_reader(self) -> RunReader {
        match self {
            RowRun::File { file, start, len } => RunReader::File {
                input: BufReader::with_capacity(8 << 10, At { file, pos: start }),
                left: len,
            },
            RowRun::Memory(rows) => RunReader::Memory(rows.into_iter()),
        }
    }
}

enum RunReader {
    File { input: BufReader<At>, left: usize },
    Memory(std::vec::IntoIter<RowRecord>),
}

impl RunReader {
    fn next_row(&mut self) -> Option<RowRecord> {
        match self {
            RunReader::File { left: 0, .. } => None,
            RunReader::File { input, left } => {
                *left -= 1;
                Some(decode(input).expect(READ_BACK))
            }
            RunReader::Memory(rows) => rows.next(),
        }
    }
}

/// A shard's runs merged back: its rows in the table's order, each once, a row that
/// several runs hold summed (ports united).
pub(crate) struct RowMerge {
    readers: Vec<RunReader>,
    /// Each run's next row with the run's index, smallest first.
    heads: BinaryHeap<Reverse<Head>>,
}

/// A run's next row, ordered by [`RowRecord::cmp_key`] (then by run, for a total order).
struct Head(RowRecord, usize);

impl Ord for Head {
    fn cmp(&self, other: &Head) -> Ordering {
        self.0.cmp_key(&other.0).then(self.1.cmp(&other.1))
    }
}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Head) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Head) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Head {}

impl RowMerge {
    pub(crate) fn new(runs: Vec<RowRun>) -> RowMerge {
        let mut readers: Vec<RunReader> = runs.into_iter().map(RowRun::into_reader).collect();
        let heads = readers
            .iter_mut()
            .enumerate()
            .filter_map(|(i, r)| Some(Reverse(Head(r.next_row()?, i))))
            .collect();
        RowMerge { readers, heads }
    }

    /// The next row's rank in the table's order, without taking it.
    pub(crate) fn peek_rank(&self) -> Option<u32> {
        self.heads.peek().map(|Reverse(Head(row, _))| row.rank)
    }

    /// The next row, its copies in every run merged.
    pub(crate) fn next_row(&mut self) -> Option<RowRecord> {
        let mut row = self.pop()?;
        while let Some(Reverse(Head(head, _))) = self.heads.peek() {
            if row.cmp_key(head) != Ordering::Equal {
                break;
            }
            let same = self.pop().expect("a head was peeked");
            row.merge(same);
        }
        Some(row)
    }

    /// Takes the smallest head, reading its run's next.
    fn pop(&mut self) -> Option<RowRecord> {
        let Reverse(Head(row, i)) = self.heads.pop()?;
        if let Some(next) = self.readers[i].next_row() {
            self.heads.push(Reverse(Head(next, i)));
        }
        Some(row)
    }
}

fn side_code(side: Side) -> u8 {
    match side {
        Side::Server => 0,
        Side::Client => 1,
    }
}

fn outcome_code(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Opened => 0,
        Outcome::Refused => 1,
        Outcome::Unanswered => 2,
    }
}

fn encode(row: &RowRecord, out: &mut Vec<u8>) {
    out.extend_from_slice(&row.rank.to_le_bytes());
    out.extend_from_slice(&row.iface.to_le_bytes());
    out.extend_from_slice(&[side_code(row.side), row.protocol, outcome_code(row.outcome)]);
    out.extend_from_slice(&row.port.to_le_bytes());
    let kind = PeerKind::ALL
        .iter()
        .position(|k| *k == row.peer_kind)
        .expect("every kind is listed") as u8;
    out.push(kind);
    out.extend_from_slice(&(row.peer_text.len() as u16).to_le_bytes());
    out.extend_from_slice(row.peer_text.as_bytes());
    let a = &row.acc;
    for n in [a.flows, a.packets, a.bytes, a.first_seen, a.last_seen] {
        out.extend_from_slice(&n.to_le_bytes());
    }
    for n in a.bases {
        out.extend_from_slice(&n.to_le_bytes());
    }
    out.extend_from_slice(&(row.ports.len() as u32).to_le_bytes());
    for p in &row.ports {
        out.extend_from_slice(&p.to_le_bytes());
    }
}

fn decode(input: &mut impl Read) -> std::io::Result<RowRecord> {
    fn bytes<const N: usize>(input: &mut impl Read) -> std::io::Result<[u8; N]> {
        let mut b = [0u8; N];
        input.read_exact(&mut b)?;
        Ok(b)
    }
    let u64_of = |input: &mut dyn Read| -> std::io::Result<u64> {
        let mut b = [0u8; 8];
        input.read_exact(&mut b)?;
        Ok(u64::from_le_bytes(b))
    };
    let rank = u32::from_le_bytes(bytes(input)?);
    let iface = u32::from_le_bytes(bytes(input)?);
    let [side, protocol, outcome] = bytes(input)?;
    let port = u16::from_le_bytes(bytes(input)?);
    let [kind] = bytes(input)?;
    let len = u16::from_le_bytes(bytes(input)?) as usize;
    let mut text = vec![0u8; len];
    input.read_exact(&mut text)?;
    let peer_text = String::from_utf8(text).map_err(std::io::Error::other)?;
    let peer_kind = *PeerKind::ALL
        .get(kind as usize)
        .ok_or_else(|| std::io::Error::other(format!("peer kind {kind}")))?;
    let mut acc = Acc {
        flows: u64_of(input)?,
        packets: u64_of(input)?,
        bytes: u64_of(input)?,
        first_seen: u64_of(input)?,
        last_seen: u64_of(input)?,
        bases: [0; 6],
    };
    for b in &mut acc.bases {
        *b = u64_of(input)?;
    }
    let count = u32::from_le_bytes(bytes(input)?) as usize;
    let mut ports = Vec::with_capacity(count);
    for _ in 0..count {
        ports.push(u16::from_le_bytes(bytes(input)?));
    }
    Ok(RowRecord {
        rank,
        iface,
        side: if side == 0 {
            Side::Server
        } else {
            Side::Client
        },
        protocol,
        port,
        peer_kind,
        peer_text,
        outcome: [Outcome::Opened, Outcome::Refused, Outcome::Unanswered][outcome as usize],
        acc,
        ports,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(rank: u32, peer: &str, outcome: Outcome, flows: u64, ports: &[u16]) -> RowRecord {
        RowRecord {
            rank,
            iface: rank + 100,
            side: Side::Server,
            protocol: 6,
            port: 443,
            peer_kind: PeerKind::Internet,
            peer_text: peer.into(),
            outcome,
            acc: Acc {
                flows,
                packets: 2 * flows,
                bytes: 3 * flows,
                first_seen: 10 + flows,
                last_seen: 20 + flows,
                bases: [flows, 0, 0, 0, 0, 1],
            },
            ports: ports.to_vec(),
        }
    }

    #[test]
    fn runs_merge_back_in_order_summing_shared_rows() {
        let one = vec![
            record(0, "198.51.100.10/32", Outcome::Opened, 1, &[40000, 50000]),
            record(0, "198.51.100.9/32", Outcome::Opened, 2, &[40001]),
            record(1, "2001:db8::1/128", Outcome::Refused, 3, &[]),
        ];
        let two = vec![
            record(
                0,
                "198.51.100.10/32",
                Outcome::Opened,
                4,
                &[39999, 50000, 60000],
            ),
            record(0, "198.51.100.10/32", Outcome::Unanswered, 5, &[1]),
            record(2, "203.0.113.1/32", Outcome::Opened, 6, &[2]),
        ];
        for run in [&one, &two] {
            assert!(run.windows(2).all(|w| w[0].cmp_key(&w[1]).is_lt()));
        }
        let mut file = RunFile::default();
        let (first, failed) = RowRun::spill(&mut file, one[..1].to_vec());
        assert!(failed.is_none() && matches!(first, RowRun::File { .. }));
        // Runs share the file: the next starts where the first ends.
        let (rest, _) = RowRun::spill(&mut file, one[1..].to_vec());
        let one = RowRun::merged(&mut file, RowMerge::new(vec![rest, first]));
        let mut merge = RowMerge::new(vec![one, RowRun::in_memory(two)]);
        let mut got = Vec::new();
        while let Some(rank) = merge.peek_rank() {
            let row = merge.next_row().unwrap();
            assert_eq!(row.rank, rank);
            got.push(row);
        }
        let mut shared = record(
            0,
            "198.51.100.10/32",
            Outcome::Opened,
            1,
            &[39999, 40000, 50000, 60000],
        );
        shared
            .acc
            .merge(&record(0, "198.51.100.10/32", Outcome::Opened, 4, &[]).acc);
        assert_eq!(
            got,
            [
                shared,
                record(0, "198.51.100.10/32", Outcome::Unanswered, 5, &[1]),
                record(0, "198.51.100.9/32", Outcome::Opened, 2, &[40001]),
                record(1, "2001:db8::1/128", Outcome::Refused, 3, &[]),
                record(2, "203.0.113.1/32", Outcome::Opened, 6, &[2]),
            ]
        );
        assert_eq!(got[0].acc.flows, 5);
        assert_eq!((got[0].acc.first_seen, got[0].acc.last_seen), (11, 24));
        assert!(merge.next_row().is_none());
    }
}
