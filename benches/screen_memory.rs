//! What one agent's screen costs in heap, measured with dhat: a `Screen`
//! (the emulator and its history, no PTY) fed lines of typical agent
//! output, then resized through a cycle of sizes.
//!
//! Run with `cargo bench --bench screen_memory`. Environment:
//! - `SB_MEM_LINES`: lines printed (default 5,000; the figure);
//! - `SB_MEM_SCROLLBACK`: lines of history kept (default 10,000, the
//!   plan's default).
//!
//! Prints, for one screen at 200x50: live heap after printing, after
//! compacting (as a quiet screen is, `Screen::compact`), the peak, and
//! live heap after resizing 400x100 → 200x50 → 60x20 → 200x50; and
//! the same for eight screens, as the supervisor holds eight agents.

use std::time::Instant;

use sliceboard::session::{Screen, Size};

#[path = "common/typical_output.rs"]
mod typical_output;
use typical_output::typical_output;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const START: Size = Size {
    cols: 200,
    rows: 50,
};
const RESIZES: [Size; 4] = [
    Size {
        cols: 400,
        rows: 100,
    },
    Size {
        cols: 200,
        rows: 50,
    },
    Size { cols: 60, rows: 20 },
    Size {
        cols: 200,
        rows: 50,
    },
];

fn main() {
    let lines: usize = env_number("SB_MEM_LINES", 5_000);
    let scrollback: usize = env_number("SB_MEM_SCROLLBACK", 10_000);
    let output = typical_output(lines);
    println!(
        "{lines} lines of typical output ({} bytes, {:.0} bytes a line), scrollback {scrollback}, start {}x{}",
        output.len(),
        output.len() as f64 / lines as f64,
        START.cols,
        START.rows
    );

    let _profiler = dhat::Profiler::builder().testing().build();
    let empty = live();

    for count in [1usize, 8] {
        let before = live();
        let started = Instant::now();
        let mut screens: Vec<Screen> = (0..count)
            .map(|_| {
                let mut screen = Screen::new(START, scrollback);
                for chunk in output.chunks(4096) {
                    screen.feed(chunk);
                }
                screen
            })
            .collect();
        let fed = started.elapsed();
        let printed = live() - before;
        let history = screens[0].history_len();
        println!(
            "compact: {} rows in {} bytes",
            screens[0].compact_history_len(),
            screens[0].compact_history_bytes()
        );
        // Gone quiet: what the supervisor's step does a second later.
        let compacted_at = Instant::now();
        for screen in &mut screens {
            screen.compact();
        }
        let compacted = live() - before;
        println!(
            "{count} screen(s) gone quiet and compacted: {} ({} a screen) in {:.1} ms",
            mib(compacted),
            mib(compacted / count),
            compacted_at.elapsed().as_secs_f64() * 1e3,
        );
        let started = Instant::now();
        let mut after_each = Vec::new();
        for size in RESIZES {
            for screen in &mut screens {
                screen.resize(size);
            }
            after_each.push(live() - before);
        }
        let resized = started.elapsed();
        let stats = dhat::HeapStats::get();
        println!(
            "{count} screen(s): printed {} ({} a screen, {history} lines of history, fed in {:.0} ms); \
             after resizes {} ({} a screen; each step {}); peak of the process {}; resizes took {:.0} ms",
            mib(printed),
            mib(printed / count),
            fed.as_secs_f64() * 1e3,
            mib(*after_each.last().expect("four resizes")),
            mib(after_each.last().expect("four resizes") / count),
            after_each
                .iter()
                .map(|bytes| mib(*bytes))
                .collect::<Vec<_>>()
                .join(" → "),
            mib(stats.max_bytes - empty),
            resized.as_secs_f64() * 1e3,
        );
        // The last line printed is still on the screen, reflowed.
        let marker = format!("line {} done", lines - 1);
        assert!(
            screens[0].text().contains(&marker) || !screens[0].search(&marker).is_empty(),
            "the last line is lost"
        );
        drop(screens);
    }
}

fn live() -> usize {
    dhat::HeapStats::get().curr_bytes
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
