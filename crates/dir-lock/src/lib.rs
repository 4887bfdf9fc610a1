//! One process per state folder: a `lock` file held locked for as long as
//! the folder is in use (the OS drops the lock when the process dies).

use std::fs::{File, OpenOptions};
use std::path::Path;

/// Locks `dir`; `Ok(None)` when another process (or handle) holds it.
pub fn lock(dir: &Path) -> std::io::Result<Option<File>> {
    std::fs::create_dir_all(dir)?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("lock"))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_folder_is_locked_once_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let held = super::lock(dir.path()).unwrap().expect("first lock");
        assert!(super::lock(dir.path()).unwrap().is_none());
        drop(held);
        assert!(super::lock(dir.path()).unwrap().is_some());
    }
}
