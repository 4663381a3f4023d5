//! Following a log file as it grows: complete lines only (a partial last
//! line waits for its newline); through rotation (`dbt.log` renamed to
//! `dbt.log.1`, `.1` to `.2`…, a new `dbt.log` started), the rest of the
//! old file and any file rotated since are read first, so no line is lost;
//! a fresh start when the file is truncated, replaced or deleted. A file
//! that was missing at the last poll and was made and rotated before this
//! one (dbt writes its first 20 kB in a burst) is read from the rotated
//! files it left, too.

use std::fs::File;
use std::io::{self, Read as _, Seek as _, SeekFrom};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

/// A line longer than this is handed over without waiting for its end, so
/// a log of binary garbage cannot grow the buffer without bound.
const MAX_LINE: usize = 1024 * 1024;
/// At most this much is read per poll; the rest comes on the next.
const MAX_READ: u64 = 16 * 1024 * 1024;
/// How many rotated files (`NAME.1` … `NAME.N`) are looked through for
/// the file being followed when it was rotated away.
const ROTATED_KEPT: usize = 10;

#[derive(Debug)]
pub struct LogTail {
    path: PathBuf,
    offset: u64,
    inode: Option<u64>,
    partial: Vec<u8>,
    /// The last poll found no file: the rotated files there then (their
    /// inodes), so a rotated file that appears later is known to be new.
    missing: Option<Vec<u64>>,
}

/// What one poll found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tailed {
    /// The file was truncated, replaced or removed: what was read before no
    /// longer stands, and `lines` start from its beginning.
    pub restarted: bool,
    /// The file was rotated: `lines` go on from where the last poll ended,
    /// through the rotated files, into the new file.
    pub rotated: bool,
    pub lines: Vec<String>,
    /// More is waiting (the read was capped).
    pub more: bool,
}

impl LogTail {
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            offset: 0,
            inode: None,
            partial: Vec::new(),
            missing: None,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads what was appended since the last poll.
    pub fn poll(&mut self) -> io::Result<Tailed> {
        let mut tailed = Tailed::default();
        let mut file = match File::open(&self.path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                // Caught between dbt renaming the file away and making the
                // next one: a rotation, read to its end, not a restart.
                if let Some(old) = self.inode {
                    match self.rotated_away(old) {
                        Some(rotated) => {
                            self.read_rotated(&rotated, &mut tailed)?;
                            tailed.rotated = true;
                            self.inode = None;
                        }
                        None => {
                            self.reset();
                            tailed.restarted = true;
                        }
                    }
                }
                if self.missing.is_none() {
                    self.missing = Some(self.rotated_files().map(|(_, ino)| ino).collect());
                }
                return Ok(tailed);
            }
            Err(err) => return Err(err),
        };
        let meta = file.metadata()?;
        if let Some(before) = self.missing.take() {
            // Made since the last poll: whatever it rotated away already
            // comes first.
            let made: Vec<PathBuf> = self
                .rotated_files()
                .filter(|(_, ino)| !before.contains(ino) && *ino != meta.ino())
                .map(|(path, _)| path)
                .collect();
            if !made.is_empty() {
                self.read_rotated(&made, &mut tailed)?;
            }
        }
        if let Some(old) = self.inode.filter(|inode| *inode != meta.ino()) {
            match self.rotated_away(old) {
                Some(rotated) => {
                    self.read_rotated(&rotated, &mut tailed)?;
                    tailed.rotated = true;
                }
                None => {
                    self.reset();
                    tailed.restarted = true;
                }
            }
        } else if meta.len() < self.offset {
            self.reset();
            tailed.restarted = true;
        }
        self.inode = Some(meta.ino());
        if meta.len() == self.offset {
            return Ok(tailed);
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut bytes = Vec::new();
        let read = file.take(MAX_READ).read_to_end(&mut bytes)?;
        self.offset += read as u64;
        tailed.more = self.offset < meta.len();
        self.partial.extend_from_slice(&bytes);
        self.split_lines(&mut tailed);
        if self.partial.len() > MAX_LINE {
            let long = std::mem::take(&mut self.partial);
            tailed
                .lines
                .push(String::from_utf8_lossy(&long).into_owned());
        }
        Ok(tailed)
    }

    /// The rotated files from the one now holding inode `old` down to
    /// `NAME.1`, oldest first; `None` when `old` is not among them.
    fn rotated_away(&self, old: u64) -> Option<Vec<PathBuf>> {
        let files: Vec<(PathBuf, u64)> = self.rotated_files().collect();
        let at = files.iter().position(|(_, ino)| *ino == old)?;
        Some(files[at..].iter().map(|(path, _)| path.clone()).collect())
    }

    /// The rotated files there are (`NAME.N` … `NAME.1`, oldest first),
    /// with their inodes.
    fn rotated_files(&self) -> impl Iterator<Item = (PathBuf, u64)> + '_ {
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        (1..=ROTATED_KEPT).rev().filter_map(move |n| {
            let path = self.path.with_file_name(format!("{name}.{n}"));
            let ino = std::fs::metadata(&path).ok()?.ino();
            Some((path, ino))
        })
    }

    /// The rest of the rotated file, then the rotated files after it,
    /// then the new file is followed from its start.
    fn read_rotated(&mut self, files: &[PathBuf], tailed: &mut Tailed) -> io::Result<()> {
        for (i, path) in files.iter().enumerate() {
            let mut file = File::open(path)?;
            let start = if i == 0 { self.offset } else { 0 };
            file.seek(SeekFrom::Start(start))?;
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)?;
            self.partial.extend_from_slice(&bytes);
            self.split_lines(tailed);
        }
        // A rotated file ends with its last line.
        if !self.partial.is_empty() {
            let last = std::mem::take(&mut self.partial);
            tailed
                .lines
                .push(String::from_utf8_lossy(&last).into_owned());
        }
        self.offset = 0;
        Ok(())
    }

    /// Moves the complete lines of `partial` into `tailed`.
    fn split_lines(&mut self, tailed: &mut Tailed) {
        let mut start = 0;
        for (at, byte) in self.partial.iter().enumerate() {
            if *byte == b'\n' {
                tailed
                    .lines
                    .push(String::from_utf8_lossy(&self.partial[start..at]).into_owned());
                start = at + 1;
            }
        }
        self.partial.drain(..start);
    }

    fn reset(&mut self) {
        self.offset = 0;
        self.inode = None;
        self.partial.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn rotation_loses_no_line_even_across_several_rotations() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dbt.log");
        let numbered = |n: usize| dir.path().join(format!("dbt.log.{n}"));
        let rotate = || {
            for n in (1..5).rev() {
                if numbered(n).exists() {
                    std::fs::rename(numbered(n), numbered(n + 1)).unwrap();
                }
            }
            std::fs::rename(&path, numbered(1)).unwrap();
        };
        let mut tail = LogTail::new(&path);
        append(&path, "one\ntw");
        assert_eq!(tail.poll().unwrap().lines, ["one"]);
        // Written after the last poll, then rotated away twice.
        append(&path, "o\nthree\n");
        rotate();
        append(&path, "four\n");
        rotate();
        append(&path, "five\nsi");
        let polled = tail.poll().unwrap();
        assert!(polled.rotated && !polled.restarted);
        assert_eq!(polled.lines, ["two", "three", "four", "five"]);
        append(&path, "x\n");
        assert_eq!(tail.poll().unwrap().lines, ["six"]);
    }

    #[test]
    fn a_poll_between_the_rename_and_the_next_file_is_a_rotation_not_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dbt.log");
        let mut tail = LogTail::new(&path);
        append(
            &path,
            "start
mid",
        );
        assert_eq!(tail.poll().unwrap().lines, ["start"]);
        append(
            &path, "dle
",
        );
        std::fs::rename(&path, dir.path().join("dbt.log.1")).unwrap();
        // dbt has not made the next file yet.
        let polled = tail.poll().unwrap();
        assert!(polled.rotated && !polled.restarted, "{polled:?}");
        assert_eq!(polled.lines, ["middle"]);
        append(
            &path, "end
",
        );
        assert_eq!(tail.poll().unwrap().lines, ["end"]);
    }

    #[test]
    fn a_file_made_and_rotated_between_two_polls_loses_no_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dbt.log");
        let numbered = |n: usize| dir.path().join(format!("dbt.log.{n}"));
        // An older run's rotated file, there before the follower looked.
        std::fs::write(numbered(1), "old run\n").unwrap();
        let mut tail = LogTail::new(&path);
        assert_eq!(tail.poll().unwrap(), Tailed::default());
        // Between two polls: made, rotated twice, made again.
        append(&path, "one\n");
        std::fs::rename(numbered(1), numbered(2)).unwrap();
        std::fs::rename(&path, numbered(1)).unwrap();
        std::fs::rename(numbered(2), numbered(3)).unwrap();
        std::fs::rename(numbered(1), numbered(2)).unwrap();
        append(&path, "two\n");
        std::fs::rename(&path, numbered(1)).unwrap();
        append(&path, "three\n");
        assert_eq!(tail.poll().unwrap().lines, ["one", "two", "three"]);
        append(&path, "four\n");
        assert_eq!(tail.poll().unwrap().lines, ["four"]);
    }

    #[test]
    fn follows_growth_partial_lines_truncation_and_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dbt.log");
        let mut tail = LogTail::new(&path);
        // The file appears later.
        assert_eq!(tail.poll().unwrap(), Tailed::default());
        append(&path, "one\ntw");
        assert_eq!(tail.poll().unwrap().lines, ["one"]);
        append(&path, "o\nthree\n");
        assert_eq!(tail.poll().unwrap().lines, ["two", "three"]);
        assert_eq!(tail.poll().unwrap(), Tailed::default());

        // Truncated in place.
        std::fs::write(&path, "fresh\n").unwrap();
        let polled = tail.poll().unwrap();
        assert!(polled.restarted);
        assert_eq!(polled.lines, ["fresh"]);

        // Replaced by a file that is not a rotation: a fresh start.
        std::fs::rename(&path, dir.path().join("elsewhere.log")).unwrap();
        append(&path, "new file, longer than the old one\n");
        let polled = tail.poll().unwrap();
        assert!(polled.restarted);
        assert_eq!(polled.lines, ["new file, longer than the old one"]);

        // Deleted.
        std::fs::remove_file(&path).unwrap();
        assert!(tail.poll().unwrap().restarted);
    }

    #[test]
    fn binary_garbage_comes_out_as_lossy_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dbt.log");
        std::fs::write(&path, b"\xff\xfe\x00bin\nok\n").unwrap();
        let lines = LogTail::new(&path).poll().unwrap().lines;
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1], "ok");
    }
}
