//! The raw output of a session, appended to `pty.log` as it arrives and
//! rotated to `pty.log.1` past a size limit, so what an agent printed
//! survives the dashboard and a restarted session can show what came before.

use std::fs::File;
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

/// The default size at which `pty.log` rotates (two files are kept).
pub const DEFAULT_MAX_BYTES: u64 = 8 * 1024 * 1024;

pub struct Transcript {
    path: PathBuf,
    max_bytes: u64,
    file: File,
    len: u64,
}

impl Transcript {
    /// Opens `path` for appending, creating it and its folder.
    pub fn open(path: &Path, max_bytes: u64) -> io::Result<Self> {
        if let Some(dir) = path.parent() {
            crate::os::private::create_dir(dir)?;
        }
        let file = crate::os::private::open_append(path)?;
        let len = file.metadata()?.len();
        Ok(Self {
            path: path.to_owned(),
            max_bytes: max_bytes.max(1),
            file,
            len,
        })
    }

    pub fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.len > 0 && self.len + bytes.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        self.file.write_all(bytes)?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        // Unlink the old rotation first: renaming over an existing file
        // makes ext4 flush the renamed one (~6 ms each on this machine).
        let older = rotated(&self.path);
        match std::fs::remove_file(&older) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
        std::fs::rename(&self.path, older)?;
        self.file = crate::os::private::open_append(&self.path)?;
        self.len = 0;
        Ok(())
    }
}

/// The older file of a rotated transcript.
pub fn rotated(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".1");
    PathBuf::from(name)
}

/// The last `max` bytes a session wrote, across the rotation.
pub fn read_tail(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let current_len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if current_len < max {
        let want = max - current_len;
        if let Ok(mut older) = File::open(rotated(path)) {
            let len = older.metadata()?.len();
            older.seek(SeekFrom::Start(len.saturating_sub(want)))?;
            older.read_to_end(&mut out)?;
        }
    }
    if let Ok(mut current) = File::open(path) {
        current.seek(SeekFrom::Start(current_len.saturating_sub(max)))?;
        current.read_to_end(&mut out)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_past_the_limit_and_reads_across_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("slices/a/pty.log");
        let mut t = Transcript::open(&path, 10).unwrap();
        t.append(b"0123456").unwrap();
        t.append(b"789abc").unwrap();
        assert_eq!(std::fs::read(rotated(&path)).unwrap(), b"0123456");
        assert_eq!(std::fs::read(&path).unwrap(), b"789abc");
        assert_eq!(read_tail(&path, 8).unwrap(), b"56789abc");
        assert_eq!(read_tail(&path, 100).unwrap(), b"0123456789abc");
        // Reopening appends rather than truncates.
        drop(t);
        let mut t = Transcript::open(&path, 10).unwrap();
        t.append(b"d").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"789abcd");
    }
}
