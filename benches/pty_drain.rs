//! Draining 50 MiB of colored text through an agent session: `cat FILE` in
//! a real PTY at 200x50 with 10,000 lines of scrollback, timed from spawn to
//! the `Exited` event (which the waiter sends once the reader has drained).
//! Also the memory one session holds with its scrollback full.
//!
//! Run with `cargo bench --bench pty_drain`. Environment:
//! - `SB_BENCH_FILE`: where the input goes (reused when it already has the
//!   right size); by default a temporary file.
//! - `SB_BENCH_ONLY=generate`: write the input and stop (for
//!   `benches/tmux_drain.sh`, which times tmux on the same bytes).
//! - `SB_BENCH_RUNS`: runs per figure (default 5).

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use sliceboard::domain::SliceName;
use sliceboard::session::{ActivityRules, EventSink, Session, SessionEvent, SessionSpec, Size};

/// The size of the input: 50 MiB.
const INPUT_BYTES: u64 = 50 * 1024 * 1024;
/// The last line of the input; the screen must show it once drained.
const END_MARKER: &str = "END-OF-PTY-DRAIN-BENCH";
const SIZE: Size = Size {
    cols: 200,
    rows: 50,
};
const SCROLLBACK: usize = 10_000;
const TRANSCRIPT_MAX: u64 = 8 << 20;
/// Generous: the slowest run seen takes a few seconds.
const TIMEOUT: Duration = Duration::from_secs(120);

fn main() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let input = std::env::var_os("SB_BENCH_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.path().join("colored.txt"));
    ensure_input(&input);
    if std::env::var("SB_BENCH_ONLY").as_deref() == Ok("generate") {
        println!("input: {} ({INPUT_BYTES} bytes)", input.display());
        return;
    }
    let runs: usize = std::env::var("SB_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);

    println!(
        "input: {} ({INPUT_BYTES} bytes, {:.1} MB); window {}x{}, scrollback {SCROLLBACK}",
        input.display(),
        INPUT_BYTES as f64 / 1e6,
        SIZE.cols,
        SIZE.rows
    );

    // Memory first, while the process has not yet held other sessions.
    memory_per_session(tmp.path(), &input);

    let mut plain = Vec::with_capacity(runs);
    for run in 0..runs {
        let secs = drain(tmp.path(), &input, None);
        println!("  no transcript, run {}: {secs:.3} s", run + 1);
        plain.push(secs);
    }
    report("ours, no transcript", &mut plain);

    let mut logged = Vec::with_capacity(runs);
    for run in 0..runs {
        let log = tmp.path().join(format!("transcript-{run}/pty.log"));
        let secs = drain(tmp.path(), &input, Some(log.clone()));
        let kept = file_len(&log) + file_len(&rotated(&log));
        println!(
            "  with transcript, run {}: {secs:.3} s ({kept} bytes kept)",
            run + 1
        );
        logged.push(secs);
    }
    report("ours, with transcript", &mut logged);
}

/// Writes the input unless a file of the right size is already there.
/// Deterministic: lines of 80-150 bytes, colored words separated by spaces.
fn ensure_input(path: &Path) {
    if file_len(path) == INPUT_BYTES {
        return;
    }
    let file = File::create(path).expect("create the input");
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut rng = Lcg(0x5eed_1234_abcd_0001);
    let tail = format!("\x1b[0m{END_MARKER}\n");
    let budget = INPUT_BYTES - tail.len() as u64;
    let mut written = 0u64;
    let mut line = Vec::with_capacity(256);
    let mut number = 0u64;
    loop {
        line.clear();
        number += 1;
        let target = 80 + rng.below(71) as usize;
        write!(line, "{number:08} ").unwrap();
        loop {
            let color = 30 + rng.below(8);
            let bold = if rng.below(4) == 0 { ";1" } else { "" };
            let word: Vec<u8> = (0..3 + rng.below(8))
                .map(|_| b'a' + rng.below(26) as u8)
                .collect();
            let segment = [
                format!("\x1b[{color}{bold}m").as_bytes(),
                &word,
                b"\x1b[0m ",
            ]
            .concat();
            if line.len() + segment.len() > target {
                break;
            }
            line.extend_from_slice(&segment);
        }
        // Plain text up to the line's length, so lines end uncolored.
        while line.len() < target {
            line.push(b'a' + rng.below(26) as u8);
        }
        line.push(b'\n');
        if written + line.len() as u64 > budget {
            break;
        }
        out.write_all(&line).unwrap();
        written += line.len() as u64;
    }
    // Pad the last line so the file is exactly INPUT_BYTES long.
    let pad = (budget - written) as usize;
    out.write_all(&vec![b'.'; pad]).unwrap();
    out.write_all(tail.as_bytes()).unwrap();
    out.flush().unwrap();
    drop(out);
    assert_eq!(file_len(path), INPUT_BYTES);
}

/// A small deterministic generator (Knuth's MMIX constants).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

struct Events {
    rx: mpsc::Receiver<SessionEvent>,
    sink: EventSink,
}

fn events() -> Events {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let sink: EventSink = Arc::new(move |event| {
        let _ = tx.lock().unwrap().send(event);
    });
    Events { rx, sink }
}

fn spec(cwd: &Path, input: &Path, transcript: Option<PathBuf>) -> SessionSpec {
    SessionSpec {
        slice: SliceName::parse("bench").unwrap(),
        command: format!("cat '{}'", input.display()),
        cwd: cwd.to_owned(),
        env: Vec::new(),
        wrapper: None,
        size: SIZE,
        scrollback: SCROLLBACK,
        transcript: transcript.map(|path| (path, TRANSCRIPT_MAX)),
        activity: ActivityRules::default(),
    }
}

/// Blocks until the session reports its exit; panics on a failed `cat`.
fn wait_exit(events: &Events) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.rx.recv_timeout(left) {
            Ok(SessionEvent::Exited { exit, .. }) => {
                assert_eq!(exit.code, 0, "cat failed: {exit:?}");
                return;
            }
            Ok(_) => {}
            Err(_) => panic!("no exit within {TIMEOUT:?}"),
        }
    }
}

/// Checks that everything landed: the marker on screen, scrollback full.
fn check_drained(session: &Session) {
    session.with_screen(|screen| {
        assert!(
            screen.text().contains(END_MARKER),
            "the screen does not end with the input's last line:\n{}",
            screen.text()
        );
        // Rows leave the emulator's grid for the compact history in
        // batches: the history is full within a batch and a screen.
        let history = screen.history_len();
        assert!(
            (SCROLLBACK - 512..=SCROLLBACK).contains(&history),
            "{history} lines of history"
        );
    });
}

/// One run: seconds from spawn to the `Exited` event.
fn drain(cwd: &Path, input: &Path, transcript: Option<PathBuf>) -> f64 {
    let events = events();
    let start = Instant::now();
    let session = Session::spawn(spec(cwd, input, transcript), None, events.sink.clone())
        .expect("session starts");
    wait_exit(&events);
    let secs = start.elapsed().as_secs_f64();
    check_drained(&session);
    secs
}

fn report(what: &str, secs: &mut [f64]) {
    secs.sort_by(f64::total_cmp);
    let (min, max) = (secs[0], secs[secs.len() - 1]);
    let median = if secs.len() % 2 == 1 {
        secs[secs.len() / 2]
    } else {
        (secs[secs.len() / 2 - 1] + secs[secs.len() / 2]) / 2.0
    };
    let mbps = |s: f64| INPUT_BYTES as f64 / 1e6 / s;
    println!(
        "{what}: min {min:.3} s, median {median:.3} s, max {max:.3} s \
         ({:.1} / {:.1} / {:.1} MB/s)",
        mbps(min),
        mbps(median),
        mbps(max)
    );
}

/// RSS and peak RSS of this process, in KiB.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resets VmHWM to the current RSS (Linux 4.0+); false where refused.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn memory_per_session(cwd: &Path, input: &Path) {
    let mib = |kb: u64| kb as f64 / 1024.0;
    let delta = |a: u64, b: u64| mib(a) - mib(b);
    let reset = reset_peak();
    let (rss0, hwm0) = memory();
    let events = events();
    let session =
        Session::spawn(spec(cwd, input, None), None, events.sink.clone()).expect("session starts");
    wait_exit(&events);
    check_drained(&session);
    let (rss1, hwm1) = memory();
    drop(session);
    // The waiter thread may still hold the shared state for a moment.
    std::thread::sleep(Duration::from_millis(200));
    let (rss2, _) = memory();
    // SAFETY: malloc_trim only returns free heap pages to the system.
    unsafe {
        libc::malloc_trim(0);
    }
    let (rss3, _) = memory();
    let cells = (SCROLLBACK + usize::from(SIZE.rows)) * usize::from(SIZE.cols);
    println!(
        "memory, one session with {SCROLLBACK} lines of scrollback at {} cols filled \
         ({cells} cells):",
        SIZE.cols
    );
    println!(
        "  before: RSS {:.1} MiB, peak {:.1} MiB{}",
        mib(rss0),
        mib(hwm0),
        if reset { " (peak reset)" } else { "" }
    );
    println!(
        "  drained, session alive: RSS {:.1} MiB (+{:.1} MiB, {:.1} bytes/cell), \
         peak {:.1} MiB (+{:.1} MiB)",
        mib(rss1),
        delta(rss1, rss0),
        (rss1.saturating_sub(rss0) * 1024) as f64 / cells as f64,
        mib(hwm1),
        delta(hwm1, rss0)
    );
    println!(
        "  after drop: RSS {:.1} MiB ({:+.1} MiB vs before); after malloc_trim: \
         RSS {:.1} MiB ({:+.1} MiB)",
        mib(rss2),
        delta(rss2, rss0),
        mib(rss3),
        delta(rss3, rss0)
    );
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn rotated(path: &Path) -> PathBuf {
    sliceboard::session::transcript::rotated(path)
}
