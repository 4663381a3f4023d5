//! `events.jsonl`: the append-only journal of lifecycle changes and operator
//! actions, one JSON object a line.
//!
//! Each entry is written with a single `write` on a file opened for append,
//! so concurrent writers never interleave inside a line. Readers skip a torn
//! or unreadable line (and count it) rather than fail.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::domain::Event;

/// Who caused an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// A person, through the dashboard or the command line.
    Operator,
    /// sliceboard on its own (reconciliation, scheduling).
    Sliceboard,
    /// A slice's agent (`sliceboard signal`).
    Agent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub at: Timestamp,
    pub actor: Actor,
    pub pid: u32,
    #[serde(flatten)]
    pub event: Event,
}

impl JournalEntry {
    pub fn now(actor: Actor, event: Event) -> Self {
        Self {
            at: Timestamp::now(),
            actor,
            pid: std::process::id(),
            event,
        }
    }
}

/// What could be read back.
#[derive(Debug, Default)]
pub struct JournalRead {
    pub entries: Vec<JournalEntry>,
    /// Lines that did not parse (a torn last line, a newer event kind).
    pub skipped: usize,
}

#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
    rotate_bytes: u64,
}

/// The journal file rotates past this size: `events.jsonl` is renamed
/// `events-<time>.jsonl` (kept: the history is append-only) and a new one
/// starts, so what is read at start stays small.
pub const ROTATE_BYTES: u64 = 4 * 1024 * 1024;

/// How much of the journal's end is read at start (each slice's Events
/// and last agent status).
pub const TAIL_BYTES: u64 = 1024 * 1024;

impl Journal {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            rotate_bytes: ROTATE_BYTES,
        }
    }

    /// A journal that rotates past `bytes` (tests use small sizes).
    pub fn rotating_at(path: PathBuf, bytes: u64) -> Self {
        Self {
            path,
            rotate_bytes: bytes,
        }
    }

    pub fn append(&self, entry: &JournalEntry) -> Result<(), StoreError> {
        let mut line = serde_json::to_vec(entry).map_err(|source| StoreError::Corrupt {
            path: self.path.clone(),
            source,
        })?;
        line.push(b'\n');
        if self.end() >= self.rotate_bytes {
            self.rotate()?;
        }
        let mut file = crate::os::private::open_append(&self.path)
            .map_err(StoreError::io("open", &self.path))?;
        // A line cut off (a writer killed mid-write, a full disk) would
        // swallow this entry as the end of its own torn line: start anew.
        if ends_cut(&self.path) {
            line.insert(0, b'\n');
        }
        file.write_all(&line)
            .map_err(StoreError::io("append to", &self.path))
    }

    pub fn record(&self, actor: Actor, event: Event) -> Result<(), StoreError> {
        self.append(&JournalEntry::now(actor, event))
    }

    /// Renames the current file aside under a name no other rotation
    /// takes; an appender that opened it before finishes its line there.
    fn rotate(&self) -> Result<(), StoreError> {
        let stamp = Timestamp::now().as_nanosecond();
        let aside = self
            .path
            .with_file_name(format!("events-{stamp:024}.jsonl"));
        match std::fs::rename(&self.path, &aside) {
            Ok(()) => Ok(()),
            // Another process rotated it first.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(StoreError::io("rotate", &self.path)(err)),
        }
    }

    /// The files rotated aside, oldest first.
    fn rotated(&self) -> Vec<PathBuf> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| {
                        p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with("events-") && n.ends_with(".jsonl"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    }

    /// The current file's entries (since the last rotation).
    pub fn read(&self) -> Result<JournalRead, StoreError> {
        self.read_from(0)
    }

    /// Every entry ever recorded: the rotated files, then the current one.
    pub fn read_all(&self) -> Result<JournalRead, StoreError> {
        let mut all = JournalRead::default();
        for file in self.rotated() {
            let read = Journal::new(file).read()?;
            all.entries.extend(read.entries);
            all.skipped += read.skipped;
        }
        let current = self.read()?;
        all.entries.extend(current.entries);
        all.skipped += current.skipped;
        Ok(all)
    }

    /// The entries in the last `bytes` of the current file (from the first
    /// whole line): what start-up needs, read in bounded time however long
    /// the history.
    pub fn read_tail(&self, bytes: u64) -> Result<JournalRead, StoreError> {
        let end = self.end();
        if end <= bytes {
            return self.read();
        }
        let mut read = self.read_from(end - bytes)?;
        // The first line was cut: it never parses, and is not a torn one.
        read.skipped = read.skipped.saturating_sub(1);
        Ok(read)
    }

    /// Where the journal ends now, for [`Journal::read_from`].
    pub fn end(&self) -> u64 {
        std::fs::metadata(&self.path).map_or(0, |m| m.len())
    }

    /// The entries from byte `offset` on (a value of [`Journal::end`]).
    pub fn read_from(&self, offset: u64) -> Result<JournalRead, StoreError> {
        use std::io::{Read as _, Seek as _};
        let mut bytes = Vec::new();
        let opened = std::fs::File::open(&self.path).and_then(|mut file| {
            file.seek(std::io::SeekFrom::Start(offset))?;
            file.read_to_end(&mut bytes)
        });
        match opened {
            Ok(_) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok(JournalRead::default());
            }
            Err(err) => return Err(StoreError::io("read", &self.path)(err)),
        }
        let mut read = JournalRead::default();
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            match serde_json::from_slice(line) {
                Ok(entry) => read.entries.push(entry),
                Err(_) => read.skipped += 1,
            }
        }
        Ok(read)
    }
}

/// Whether the file's last byte is not a newline (an empty file is whole).
fn ends_cut(path: &Path) -> bool {
    use std::os::unix::fs::FileExt as _;
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let Some(last) = file.metadata().ok().and_then(|m| m.len().checked_sub(1)) else {
        return false;
    };
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, last).is_ok() && byte[0] != b'\n'
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Lifecycle, SliceName};

    #[test]
    fn appends_and_skips_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(dir.path().join("events.jsonl"));
        let event = Event::LifecycleChanged {
            slice: SliceName::parse("a").unwrap(),
            from: Lifecycle::Planned,
            to: Lifecycle::Ready,
        };
        journal.record(Actor::Operator, event.clone()).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("events.jsonl"))
            .unwrap()
            .write_all(b"{\"at\":\"2026")
            .unwrap();
        let read = journal.read().unwrap();
        assert_eq!(read.skipped, 1);
        assert_eq!(read.entries.len(), 1);
        assert_eq!(read.entries[0].event, event);
        assert_eq!(read.entries[0].actor, Actor::Operator);
    }

    #[test]
    fn the_entry_after_a_cut_line_starts_a_line_of_its_own_and_is_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let journal = Journal::new(path.clone());
        let event = |to| Event::LifecycleChanged {
            slice: SliceName::parse("a").unwrap(),
            from: Lifecycle::Planned,
            to,
        };
        journal
            .record(Actor::Operator, event(Lifecycle::Ready))
            .unwrap();
        // A writer killed in the middle of its line.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"at\":\"2026")
            .unwrap();
        journal
            .record(Actor::Operator, event(Lifecycle::Active))
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(lines[1], "{\"at\":\"2026");
        let read = journal.read().unwrap();
        assert_eq!(read.skipped, 1);
        let events: Vec<Event> = read.entries.into_iter().map(|e| e.event).collect();
        assert_eq!(events, [event(Lifecycle::Ready), event(Lifecycle::Active)]);
    }

    #[test]
    fn rotates_by_size_keeps_every_entry_and_reads_only_the_tail_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let journal = Journal::rotating_at(path.clone(), 4096);
        let slice = SliceName::parse("staging").unwrap();
        for i in 0..500 {
            journal
                .record(
                    Actor::Operator,
                    Event::Progress {
                        slice: Some(slice.clone()),
                        message: format!("step {i}"),
                    },
                )
                .unwrap();
        }
        // Several files, none much past the limit.
        let rotated = journal.rotated();
        assert!(rotated.len() >= 5, "{rotated:?}");
        for file in rotated.iter().chain([&path]) {
            let len = std::fs::metadata(file).unwrap().len();
            assert!(len < 4096 + 512, "{} is {len} bytes", file.display());
        }
        // Nothing lost, in order.
        let all = journal.read_all().unwrap();
        let steps: Vec<String> = all
            .entries
            .iter()
            .map(|e| match &e.event {
                Event::Progress { message, .. } => message.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        let expected: Vec<String> = (0..500).map(|i| format!("step {i}")).collect();
        assert_eq!(steps, expected);
        assert_eq!(all.skipped, 0);
        // The tail: the last entries only, whole lines, none torn.
        let tail = journal.read_tail(1024).unwrap();
        assert!(!tail.entries.is_empty() && tail.entries.len() < 30);
        assert_eq!(tail.skipped, 0);
        assert!(matches!(
            &tail.entries.last().unwrap().event,
            Event::Progress { message, .. } if message == "step 499"
        ));
    }
}
