//! A consistent copy of a live store, by SQLite's online backup: page by page, beside a
//! server that keeps writing (a page written meanwhile restarts the copy of what
//! changed), so the copy is the store as it was at one moment. Written to a temporary
//! file first and renamed when checked, so a failed backup leaves nothing half-made.

use std::{path::Path, time::Duration};

use rusqlite::{Connection, OpenFlags};

use crate::{StoreError, report::read_only};

/// What a backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub customers: u64,
    pub call_records: u64,
    pub audit_entries: u64,
    pub bytes: u64,
}

fn sqlite(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Sqlite {
        path: path.display().to_string(),
        source,
    }
}

/// Copies the store at `from` to `to`, which must not exist yet, and checks the copy.
pub fn backup(from: &Path, to: &Path) -> Result<Backup, StoreError> {
    crate::check_header(from)?;
    if to.exists() {
        return Err(StoreError::Io {
            path: to.display().to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "already exists; a backup never overwrites a file",
            ),
        });
    }
    let partial = to.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    let result = copy(from, &partial).and_then(|counts| {
        std::fs::rename(&partial, to).map_err(|source| StoreError::Io {
            path: to.display().to_string(),
            source,
        })?;
        Ok(counts)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

fn copy(from: &Path, to: &Path) -> Result<Backup, StoreError> {
    let source = read_only(from)?;
    let mut copy = Connection::open_with_flags(
        to,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
    )
    .map_err(sqlite(to))?;
    {
        let backup = rusqlite::backup::Backup::new(&source, &mut copy).map_err(sqlite(to))?;
        // 256 pages (1 MiB) a step, with a pause between steps so the server's writes are
        // never held up for long.
        backup
            .run_to_completion(256, Duration::from_millis(5), None)
            .map_err(sqlite(from))?;
    }
    // The copy is a file of its own: no write-ahead log beside it.
    copy.query_row("PRAGMA journal_mode=DELETE", [], |_| Ok(()))
        .map_err(sqlite(to))?;
    let check: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(sqlite(to))?;
    if check != "ok" {
        return Err(StoreError::Damaged {
            path: to.display().to_string(),
            detail: check,
        });
    }
    // A table an older schema lacks counts 0.
    let count = |table: &str| -> Result<u64, StoreError> {
        let exists: i64 = copy
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )
            .map_err(sqlite(to))?;
        if exists == 0 {
            return Ok(0);
        }
        copy.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
            r.get::<_, i64>(0)
        })
        .map(|n| u64::try_from(n).unwrap_or(0))
        .map_err(sqlite(to))
    };
    let counts = Backup {
        customers: count("customers")?,
        call_records: count("call_records")?,
        audit_entries: count("audit")?,
        bytes: 0,
    };
    drop(copy);
    let bytes = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    Ok(Backup { bytes, ..counts })
}
