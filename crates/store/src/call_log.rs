//! The journal's calls as a log: each batch appends one row to `call_log` holding what
//! it changed (a call as it is now, or a call gone), and replay applies the rows in order,
//! the last word on each call winning. One row a batch, not one a call: SQLite's cost is
//! per row, and a batch of a thousand calls is then one insert of a large blob.
//!
//! Compaction keeps the log near what is live. The store estimates the bytes of each live
//! call's last entry (live: the calls in progress times the average entry) and counts the
//! rest as dead (entries since replaced, and calls gone). Once the dead bytes reach the
//! live ones (and at least [`COMPACT_MIN`]),
//! the calls still live are written as fresh rows and everything before them deleted, in
//! one transaction: each dead byte pays for at most one live byte copied, a log of calls
//! that only arrive is never rewritten, and a failed compaction changes nothing.
//! Compaction works from the rows alone (newest first, the first word on each call being
//! its last) and decodes no image; a row whose framing does not read stops it, so the row
//! stays in place, named at every start, until someone looks.
//!
//! A row is [`LOG_V1`], then entries:
//! - a call as it is now: `1`, its key (i64, little-endian), its id's length (u16) and
//!   the id, its image's length (u32) and the image;
//! - a call gone: `2`, its key.
//!
//! An image is the call in binary ([`CALL_IMAGE_V1`], then postcard) or, carried over from
//! stores written before the log, JSON text.

use std::{
    collections::{BTreeMap, HashSet},
    ops::Range,
};

use rusqlite::{Connection, Transaction, params};
use switchboard_core::router::CallImage;

use crate::journal::{CallRecordRow, put_record};

/// The first byte of a log row.
pub(crate) const LOG_V1: u8 = 1;
/// The first byte of a call image in its binary form (postcard, every field in order).
pub(crate) const CALL_IMAGE_V1: u8 = 1;
const PUT: u8 = 1;
const GONE: u8 = 2;

/// About the most bytes compaction writes to one row.
const CHUNK: usize = 1 << 20;

/// The log is never compacted below this size: below it, rewriting the live calls would
/// cost more than the rows it saves.
pub(crate) const COMPACT_MIN: u64 = 8 << 20;

/// A batch's calls, encoded as the batch reads them into the row it will append, with
/// the call detail records of those that have an outcome.
#[derive(Debug)]
pub(crate) struct LogBatch {
    row: Vec<u8>,
    /// Entries putting a call, and their bytes.
    puts: u64,
    put_bytes: u64,
    records: Vec<(i64, Box<CallRecordRow>)>,
}

type EncodeError = Box<dyn std::error::Error + Send + Sync>;

impl LogBatch {
    /// Room for `calls` calls, at about what an image takes (a backlog kept through a
    /// store outage gets room for its first 8,192 and grows from there).
    pub(crate) fn with_capacity(calls: usize) -> LogBatch {
        let mut row = Vec::with_capacity(1 + calls.min(8_192) * 256);
        row.push(LOG_V1);
        LogBatch {
            row,
            puts: 0,
            put_bytes: 0,
            records: Vec::new(),
        }
    }

    /// A finished call leaves the journal.
    pub(crate) fn gone(&mut self, key: i64) {
        self.row.push(GONE);
        self.row.extend_from_slice(&key.to_le_bytes());
    }

    /// A call as it is now.
    pub(crate) fn push(&mut self, call: &CallImage) -> Result<(), EncodeError> {
        let id = u16::try_from(call.call_id.len())
            .map_err(|_| format!("call id of {} bytes", call.call_id.len()))?;
        let key = key(call);
        let start = self.row.len();
        self.row.push(PUT);
        self.row.extend_from_slice(&key.to_le_bytes());
        self.row.extend_from_slice(&id.to_le_bytes());
        self.row.extend_from_slice(call.call_id.as_bytes());
        let length_at = self.row.len();
        self.row.extend_from_slice(&[0; 4]);
        self.row.push(CALL_IMAGE_V1);
        postcard::to_io(call, &mut self.row)?;
        let length =
            u32::try_from(self.row.len() - length_at - 4).map_err(|_| "a call image over 4 GiB")?;
        self.row[length_at..length_at + 4].copy_from_slice(&length.to_le_bytes());
        self.puts += 1;
        self.put_bytes += (self.row.len() - start) as u64;
        // The record is written once the call has an outcome (and again for a survey
        // that comes after); until then the journal holds everything it will say.
        if call.record.outcome.is_some() {
            self.records
                .push((key, Box::new(CallRecordRow::from_image(call))));
        }
        Ok(())
    }

    /// The row to append, when it holds anything.
    pub(crate) fn row(&self) -> Option<&[u8]> {
        (self.row.len() > 1).then_some(&self.row[..])
    }

    /// The records of calls that have an outcome, by journal key.
    pub(crate) fn records(&self) -> impl Iterator<Item = (&i64, &CallRecordRow)> {
        self.records.iter().map(|(k, r)| (k, &**r))
    }

    /// Appends the row (when it holds anything) and writes the records.
    pub(crate) fn write(&self, tx: &Transaction<'_>) -> Result<(), rusqlite::Error> {
        for (key, record) in &self.records {
            put_record(tx, *key, record)?;
        }
        if self.row.len() > 1 {
            append(tx, &self.row)?;
        }
        Ok(())
    }
}

fn append(conn: &Connection, row: &[u8]) -> Result<(), rusqlite::Error> {
    conn.prepare_cached("INSERT INTO call_log (entries) VALUES (?1)")?
        .execute(params![row])?;
    Ok(())
}

/// The journal key of a call: its arrival order, and the id of its call detail record.
pub(crate) fn key(call: &CallImage) -> i64 {
    i64::try_from(call.key).unwrap_or(i64::MAX)
}

/// The calls the log holds as live, each as its last entry left it, in key order.
#[derive(Debug, Default)]
pub(crate) struct Live {
    bytes: Vec<u8>,
    calls: BTreeMap<i64, Entry>,
    /// Rows whose framing does not read, named; what they held after the fault is not
    /// applied.
    pub(crate) broken: Vec<String>,
}

#[derive(Debug, Clone)]
struct Entry {
    id: Range<usize>,
    image: Range<usize>,
}

impl Live {
    /// Applies one row of the log.
    pub(crate) fn apply(&mut self, seq: i64, row: &[u8]) {
        let mut entries = 0;
        let parsed = parse(row, |e| {
            entries += 1;
            match e.put {
                Some((id, image)) => {
                    let id = self.keep(&row[id]);
                    let image = self.keep(&row[image]);
                    self.calls.insert(e.key, Entry { id, image });
                }
                None => {
                    self.calls.remove(&e.key);
                }
            }
        });
        if let Err(why) = parsed {
            self.broken.push(format!("journal row {seq}: {why}"));
        }
    }

    fn keep(&mut self, b: &[u8]) -> Range<usize> {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(b);
        start..self.bytes.len()
    }

    /// The live calls in key order: (id, image).
    pub(crate) fn calls(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.calls.values().map(|e| {
            (
                std::str::from_utf8(&self.bytes[e.id.clone()]).unwrap_or("(id not UTF-8)"),
                &self.bytes[e.image.clone()],
            )
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.calls.len()
    }
}

struct Reader<'a> {
    row: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.row.len())
            .ok_or_else(|| "cut short".to_owned())?;
        let out = &self.row[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let b = self.take(N)?;
        Ok(b.try_into().expect("took N bytes"))
    }
}

/// An entry of a row, as [`parse`] finds it.
struct Parsed {
    key: i64,
    /// The whole entry's place in the row.
    entry: Range<usize>,
    /// A call as it is now: its id's and image's places; `None` for a call gone.
    put: Option<(Range<usize>, Range<usize>)>,
}

/// Walks a row's entries in order; an error says why the rest does not read.
fn parse(row: &[u8], mut each: impl FnMut(Parsed)) -> Result<(), String> {
    match row.first() {
        Some(&LOG_V1) => {}
        Some(v) => {
            return Err(format!(
                "log format {v} is not one this version reads (written by a newer one?)"
            ));
        }
        None => return Err("empty".to_owned()),
    }
    let mut r = Reader { row, at: 1 };
    let mut entries = 0;
    while r.at < row.len() {
        let start = r.at;
        let entry = (|| {
            let kind = r.take(1)?[0];
            let key = i64::from_le_bytes(r.array()?);
            let put = match kind {
                PUT => {
                    let id_len = u16::from_le_bytes(r.array()?);
                    let id_at = r.at;
                    r.take(usize::from(id_len))?;
                    let id = id_at..r.at;
                    let image_len = u32::from_le_bytes(r.array()?);
                    let image_at = r.at;
                    r.take(image_len as usize)?;
                    Some((id, image_at..r.at))
                }
                GONE => None,
                other => return Err(format!("unknown entry kind {other}")),
            };
            Ok((key, put))
        })();
        match entry {
            Ok((key, put)) => each(Parsed {
                key,
                entry: start..r.at,
                put,
            }),
            Err(why) => {
                return Err(format!(
                    "{why} after {entries} entries; the rest is not read"
                ));
            }
        }
        entries += 1;
    }
    Ok(())
}

/// Reads the whole log.
pub(crate) fn read(conn: &Connection) -> Result<Live, rusqlite::Error> {
    let mut live = Live::default();
    let mut stmt = conn.prepare("SELECT seq, entries FROM call_log ORDER BY seq")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        match r.get_ref(1)? {
            rusqlite::types::ValueRef::Blob(b) => live.apply(seq, b),
            _ => live.broken.push(format!("journal row {seq}: not a blob")),
        }
    }
    Ok(live)
}

/// Rows written out of whole entries, each of at most about [`CHUNK`] bytes: by
/// compaction and by the migration to the log. `append` writes one row.
pub(crate) struct Chunks<A> {
    row: Vec<u8>,
    written: u64,
    append: A,
}

impl<A, E> Chunks<A>
where
    A: FnMut(&[u8]) -> Result<(), E>,
{
    pub(crate) fn new(append: A) -> Chunks<A> {
        Chunks {
            row: vec![LOG_V1],
            written: 0,
            append,
        }
    }

    pub(crate) fn add(&mut self, entry: &[u8]) -> Result<(), E> {
        if self.row.len() > 1 && self.row.len() + entry.len() > CHUNK {
            self.flush()?;
        }
        self.row.extend_from_slice(entry);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), E> {
        if self.row.len() > 1 {
            (self.append)(&self.row)?;
            self.written += self.row.len() as u64;
            self.row.truncate(1);
        }
        Ok(())
    }

    /// Writes what is left; the bytes written in all.
    pub(crate) fn finish(mut self) -> Result<u64, E> {
        self.flush()?;
        Ok(self.written)
    }
}

/// The live calls of a log read newest row first, as fresh rows: `rows` are the log's
/// row numbers newest first, `read` reads one (`None`: not a blob), `append` writes a
/// fresh row. `None` (the fresh rows must be thrown away) when a row does not read.
///
/// Each row's entries are taken last first, so the first entry met for a call is its
/// last word: a call put there is copied, and every older entry of it skipped.
pub(crate) fn compact_rows<E>(
    rows: &[i64],
    mut read: impl FnMut(i64, &mut Vec<u8>) -> Result<bool, E>,
    append: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<Option<u64>, E> {
    let mut seen = HashSet::new();
    let (mut row, mut entries) = (Vec::new(), Vec::new());
    let mut out = Chunks::new(append);
    for &seq in rows {
        row.clear();
        let blob = read(seq, &mut row)?;
        entries.clear();
        if !blob || parse(&row, |e| entries.push(e)).is_err() {
            return Ok(None);
        }
        for e in entries.iter().rev() {
            if !seen.insert(e.key) || e.put.is_none() {
                continue;
            }
            out.add(&row[e.entry.clone()])?;
        }
    }
    out.finish().map(Some)
}

/// Rewrites the live calls as fresh rows and deletes every row before them; returns the
/// bytes written, or `None` (nothing changed) when a row does not read. Each row is read
/// by its own statement, so no read is open on the table while the fresh rows go in.
pub(crate) fn compact(tx: &Transaction<'_>) -> Result<Option<u64>, rusqlite::Error> {
    let seqs: Vec<i64> = tx
        .prepare("SELECT seq FROM call_log ORDER BY seq DESC")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let Some(&last) = seqs.first() else {
        return Ok(Some(0));
    };
    let mut read = tx.prepare("SELECT entries FROM call_log WHERE seq = ?1")?;
    let written = compact_rows(
        &seqs,
        |seq, row| {
            read.query_row(params![seq], |r| match r.get_ref(0)? {
                rusqlite::types::ValueRef::Blob(b) => {
                    row.extend_from_slice(b);
                    Ok(true)
                }
                _ => Ok(false),
            })
        },
        |row| append(tx, row),
    )?;
    if written.is_some() {
        tx.execute("DELETE FROM call_log WHERE seq <= ?1", params![last])?;
    }
    Ok(written)
}

/// Schema 7: the calls of `live_calls` (one row a call) move into the log, images as
/// they were stored (binary, or JSON text from earlier versions), and the table goes.
pub(crate) fn migrate_from_rows(tx: &Transaction<'_>) -> Result<(), rusqlite::Error> {
    tx.execute_batch(
        "CREATE TABLE call_log (
             seq INTEGER PRIMARY KEY,
             entries BLOB NOT NULL
         );",
    )?;
    // Each call had one row, so each becomes one entry, in key order.
    let mut out = Chunks::new(|row: &[u8]| append(tx, row));
    let mut entry = Vec::new();
    {
        let mut stmt = tx.prepare("SELECT id, call_id, image FROM live_calls ORDER BY id")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let key: i64 = r.get(0)?;
            let id: String = r.get(1)?;
            let image = match r.get_ref(2)? {
                rusqlite::types::ValueRef::Blob(b) => b,
                rusqlite::types::ValueRef::Text(t) => t,
                _ => &[],
            };
            let (Ok(id_len), Ok(image_len)) = (u16::try_from(id.len()), u32::try_from(image.len()))
            else {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    format!("journal row {key}: too long to move into the log").into(),
                ));
            };
            entry.clear();
            entry.push(PUT);
            entry.extend_from_slice(&key.to_le_bytes());
            entry.extend_from_slice(&id_len.to_le_bytes());
            entry.extend_from_slice(id.as_bytes());
            entry.extend_from_slice(&image_len.to_le_bytes());
            entry.extend_from_slice(image);
            out.add(&entry)?;
        }
    }
    out.finish()?;
    tx.execute_batch("DROP TABLE live_calls;")
}

/// A call image as the log holds it: binary, or JSON text carried over from a store
/// written before the log.
pub(crate) fn decode(image: &[u8]) -> Result<CallImage, String> {
    match image {
        [CALL_IMAGE_V1, rest @ ..] => postcard::from_bytes(rest).map_err(|e| e.to_string()),
        [b'{', ..] => serde_json::from_slice(image).map_err(|e| e.to_string()),
        [version, ..] => Err(format!(
            "image format {version} is not one this version reads (written by a newer one?)"
        )),
        [] => Err("empty image".to_owned()),
    }
}

/// How big the log is, how much of it is live, and when to compact.
///
/// Live is estimated as the calls in progress (from the live source, at each batch)
/// times the average entry a call is put with; dead is the rest. An estimate is enough:
/// it only decides when compaction runs, and compaction works out what is live from the
/// rows themselves.
#[derive(Debug, Default)]
pub(crate) struct LogSize {
    /// Bytes in the log's rows.
    pub(crate) bytes: u64,
    /// Entries putting a call, and their bytes, since the log began.
    puts: u64,
    put_bytes: u64,
    /// Calls in progress at the last batch.
    live_calls: u64,
    /// Dead bytes from which compaction is tried (at least the live bytes too).
    due_at: u64,
    pub(crate) min: u64,
}

impl LogSize {
    pub(crate) fn new(min: u64) -> LogSize {
        LogSize {
            due_at: min,
            min,
            ..LogSize::default()
        }
    }

    /// Counts the log as it stands (at open): every call it holds as live, as replay
    /// will find it.
    pub(crate) fn count(conn: &Connection, min: u64) -> Result<LogSize, rusqlite::Error> {
        let mut size = LogSize::new(min);
        let mut live = HashSet::new();
        let mut stmt = conn.prepare("SELECT entries FROM call_log ORDER BY seq")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            if let rusqlite::types::ValueRef::Blob(row) = r.get_ref(0)? {
                size.count_row(row, &mut live);
            }
        }
        size.live_calls = live.len() as u64;
        Ok(size)
    }

    /// Counts one row of the log read at open (`live`: the keys live so far).
    pub(crate) fn count_row(&mut self, row: &[u8], live: &mut HashSet<i64>) {
        self.bytes += row.len() as u64;
        let _ = parse(row, |e| match e.put {
            Some(_) => {
                self.puts += 1;
                self.put_bytes += e.entry.len() as u64;
                live.insert(e.key);
            }
            None => {
                live.remove(&e.key);
            }
        });
    }

    /// After the rows were counted with [`LogSize::count_row`].
    pub(crate) fn set_live_calls(&mut self, n: usize) {
        self.live_calls = n as u64;
    }

    /// A batch's row was appended, with `live_calls` calls in progress.
    pub(crate) fn appended(&mut self, batch: &LogBatch, live_calls: Option<usize>) {
        if batch.row.len() > 1 {
            self.bytes += batch.row.len() as u64;
        }
        self.puts += batch.puts;
        self.put_bytes += batch.put_bytes;
        if let Some(n) = live_calls {
            self.live_calls = n as u64;
        }
    }

    /// About the bytes of each live call's last entry.
    pub(crate) fn live_bytes(&self) -> u64 {
        (self.put_bytes / self.puts.max(1))
            .saturating_mul(self.live_calls)
            .min(self.bytes)
    }

    pub(crate) fn dead_bytes(&self) -> u64 {
        self.bytes - self.live_bytes()
    }

    /// Whether compaction is due: dead bytes past the live ones and the threshold.
    pub(crate) fn due(&self) -> bool {
        self.dead_bytes() >= self.due_at.max(self.live_bytes())
    }

    /// Compaction from `min` dead bytes on, instead of [`COMPACT_MIN`].
    pub(crate) fn compact_from(&mut self, min: u64) {
        self.min = min;
        self.due_at = min;
    }

    /// After a compaction that left `bytes` in the log.
    pub(crate) fn compacted(&mut self, bytes: u64) {
        self.bytes = bytes;
        self.due_at = self.min;
    }

    /// Counts a compaction's outcome: `Some(bytes)` left in the log, `None` when a row
    /// did not read (nothing changed), or the error; true when it compacted.
    pub(crate) fn after_compaction<E>(
        &mut self,
        outcome: Result<Option<u64>, E>,
    ) -> Result<bool, E> {
        match outcome {
            Ok(Some(bytes)) => {
                self.compacted(bytes);
                Ok(true)
            }
            Ok(None) => {
                self.postponed();
                Ok(false)
            }
            Err(e) => {
                self.postponed();
                Err(e)
            }
        }
    }

    /// After a compaction that failed or could not run: try again once as much again
    /// has died.
    pub(crate) fn postponed(&mut self) {
        self.due_at = self.dead_bytes() + self.min;
    }
}
