//! The block file: every block after genesis, each as a 4-byte little-endian
//! length and the consensus encoding, appended and fsynced as it is mined.
//! A reorg rewrites the file (temporary file, fsync, rename).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use bitcoin::Block;
use bitcoin::consensus::{deserialize, serialize};

use super::error::SimnetError;

#[derive(Debug)]
pub struct BlockFile {
    path: PathBuf,
}

impl BlockFile {
    pub fn new(dir: &Path, name: &str) -> BlockFile {
        BlockFile {
            path: dir.join(name),
        }
    }

    fn io(&self, source: std::io::Error) -> SimnetError {
        SimnetError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// The stored blocks, in order. A torn last record (a crash while
    /// appending) is dropped and cut off the file; any other damage is an
    /// error.
    pub fn load(&self) -> Result<Vec<Block>, SimnetError> {
        let mut bytes = Vec::new();
        match File::open(&self.path) {
            Ok(mut file) => file.read_to_end(&mut bytes).map_err(|e| self.io(e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io(e)),
        };
        let mut blocks = Vec::new();
        let mut at = 0usize;
        while at < bytes.len() {
            let Some(len) = bytes.get(at..at + 4) else {
                break;
            };
            let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
            let Some(record) = bytes.get(at + 4..at + 4 + len) else {
                break;
            };
            let block: Block = deserialize(record).map_err(|e| SimnetError::Corrupt {
                path: self.path.clone(),
                reason: format!("block {} at byte {at}: {e}", blocks.len() + 1),
            })?;
            blocks.push(block);
            at += 4 + len;
        }
        if at < bytes.len() {
            tracing::warn!(path = %self.path.display(), "dropping a torn block record at the end of the simnet block file");
            let file = OpenOptions::new()
                .write(true)
                .open(&self.path)
                .map_err(|e| self.io(e))?;
            file.set_len(at as u64).map_err(|e| self.io(e))?;
            file.sync_all().map_err(|e| self.io(e))?;
        }
        Ok(blocks)
    }

    /// Appends blocks and fsyncs once.
    pub fn append(&self, blocks: &[Block]) -> Result<(), SimnetError> {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| self.io(e))?;
        file.write_all(&encode(blocks)).map_err(|e| self.io(e))?;
        file.sync_all().map_err(|e| self.io(e))
    }

    /// Replaces the file's contents with `blocks` atomically.
    pub fn rewrite(&self, blocks: &[Block]) -> Result<(), SimnetError> {
        let tmp = self.path.with_extension("dat.tmp");
        let mut file = File::create(&tmp).map_err(|e| self.io(e))?;
        file.write_all(&encode(blocks)).map_err(|e| self.io(e))?;
        file.sync_all().map_err(|e| self.io(e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| self.io(e))?;
        if let Some(dir) = self.path.parent() {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| self.io(e))?;
        }
        Ok(())
    }
}

/// Locks `dir` (a `lock` file in it) for as long as the returned file is
/// open, so two simnets never write one chain.
pub fn lock_dir(dir: &Path) -> Result<File, SimnetError> {
    match dir_lock::lock(dir) {
        Ok(Some(file)) => Ok(file),
        Ok(None) => Err(SimnetError::InUse {
            path: dir.to_path_buf(),
        }),
        Err(source) => Err(SimnetError::Io {
            path: dir.to_path_buf(),
            source,
        }),
    }
}

fn encode(blocks: &[Block]) -> Vec<u8> {
    let mut out = Vec::new();
    for block in blocks {
        let bytes = serialize(block);
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(&bytes);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::Network;
    use bitcoin::constants::genesis_block;

    #[test]
    fn blocks_round_trip_and_a_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let file = BlockFile::new(dir.path(), "blocks.dat");
        assert!(file.load().unwrap().is_empty());
        let block = genesis_block(Network::Regtest);
        file.append(&[block.clone(), block.clone()]).unwrap();
        file.append(std::slice::from_ref(&block)).unwrap();
        assert_eq!(file.load().unwrap(), vec![block.clone(); 3]);

        // A crash mid-append leaves half a record.
        let mut raw = OpenOptions::new()
            .append(true)
            .open(dir.path().join("blocks.dat"))
            .unwrap();
        raw.write_all(&[200, 0, 0, 0, 1, 2, 3]).unwrap();
        drop(raw);
        assert_eq!(file.load().unwrap().len(), 3);
        file.append(std::slice::from_ref(&block)).unwrap();
        assert_eq!(file.load().unwrap().len(), 4, "appends after the cut");

        file.rewrite(std::slice::from_ref(&block)).unwrap();
        assert_eq!(file.load().unwrap(), vec![block]);
    }

    #[test]
    fn a_damaged_record_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("blocks.dat"), [3, 0, 0, 0, 1, 2, 3]).unwrap();
        let err = BlockFile::new(dir.path(), "blocks.dat").load().unwrap_err();
        assert!(err.to_string().contains("blocks.dat"), "{err}");
    }
}
