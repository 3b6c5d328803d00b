//! One daemon per store: an exclusive lock on a file beside the store, held for the
//! process's life (the kernel lets go of it when the process dies, `kill -9` included).
//! The file names the holder, so a second daemon can say who has the store.

use std::{
    fs::{File, OpenOptions},
    io::{Read, Seek, SeekFrom, Write},
    path::{Path, PathBuf},
};

use crate::StoreError;

/// The lock on a store; released when dropped (or by [`StoreLock::release`]).
#[derive(Debug)]
pub struct StoreLock {
    file: File,
    path: PathBuf,
}

/// The lock file of the store at `store`: `switchboard.db` -> `switchboard.db.lock`.
pub fn lock_path(store: &Path) -> PathBuf {
    let mut name = store.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    store.with_file_name(name)
}

impl StoreLock {
    /// Takes the store at `store` for this process, creating its folder if need be; a
    /// store another process holds is refused with what that process wrote of itself.
    pub fn acquire(store: &Path, holder: &str) -> Result<StoreLock, StoreError> {
        let path = lock_path(store);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateFolder {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let io = |source| StoreError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut written = String::new();
                let _ = file.read_to_string(&mut written);
                let written = written.trim();
                return Err(StoreError::Locked {
                    path: store.display().to_string(),
                    holder: if written.is_empty() {
                        "another process".to_owned()
                    } else {
                        written.to_owned()
                    },
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(format!("{holder}\n").as_bytes())
            .map_err(io)?;
        Ok(StoreLock { file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Lets go of the store now, though the handle lives on (a server stopped inside a
    /// process that goes on, as tests do).
    pub fn release(&self) {
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_name_until_it_lets_go() {
        let dir = std::env::temp_dir().join(format!("switchboard-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = dir.join("data").join("s.db");
        let first = StoreLock::acquire(&store, "pid 41 serving 127.0.0.1:50051").unwrap();
        assert_eq!(first.path(), dir.join("data").join("s.db.lock"));
        let err = StoreLock::acquire(&store, "pid 42").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: in use by another Switchboard (pid 41 serving 127.0.0.1:50051); one server per store",
                store.display()
            )
        );
        first.release();
        let second = StoreLock::acquire(&store, "pid 42").unwrap();
        drop(second);
        drop(first);
        assert!(StoreLock::acquire(&store, "pid 43").is_ok());
    }
}
