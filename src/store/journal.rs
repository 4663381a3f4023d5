//! `events.jsonl`: the append-only journal of lifecycle changes and operator
//! actions, one JSON object a line.
//!
//! Each entry is written with a single `write` on a file opened for append,
//! so concurrent writers never interleave inside a line. Readers skip a torn
//! or unreadable line (and count it) rather than fail.

use std::io::Write as _;
use std::path::PathBuf;

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
}

impl Journal {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    pub fn append(&self, entry: &JournalEntry) -> Result<(), StoreError> {
        let mut line = serde_json::to_vec(entry).map_err(|source| StoreError::Corrupt {
            path: self.path.clone(),
            source,
        })?;
        line.push(b'\n');
        let mut file =
            super::private::open_append(&self.path).map_err(StoreError::io("open", &self.path))?;
        file.write_all(&line)
            .map_err(StoreError::io("append to", &self.path))
    }

    pub fn record(&self, actor: Actor, event: Event) -> Result<(), StoreError> {
        self.append(&JournalEntry::now(actor, event))
    }

    pub fn read(&self) -> Result<JournalRead, StoreError> {
        self.read_from(0)
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
}
