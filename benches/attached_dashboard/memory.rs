//! The `memory` part: what the supervisor holds with 8 agents that each
//! printed lines of typical agent output, and after a cycle of resizes,
//! beside a tmux server holding the same output in 8 windows.
//!
//! Each agent `cat`s the same file (`SB_MEM_LINES` lines, default 5,000,
//! from `benches/common/typical_output.rs`) at 200x50 with the plan's
//! default scrollback (10,000). The resizes go 400x100 → 200x50 → 60x20 →
//! 200x50, through the supervisor's `ResizeAgent` (what an attached
//! dashboard sends) and tmux's `resize-window`; RSS is read a second
//! after every agent reports the new size.

use std::path::Path;
use std::time::{Duration, Instant};

use sliceboard::domain::{Command, SliceName};

use crate::procs;
use crate::rig::{Agents, Repo, Tmux, slice};
use crate::typical_output::typical_output;
use crate::{HEIGHT, LIMIT, SCROLLBACK, WIDTH};

const SLICES: usize = 8;
const CYCLE: [(u16, u16); 4] = [(400, 100), (200, 50), (60, 20), (200, 50)];

pub fn memory(bin: &Path, dir: &Path, sync: &Tmux, lines: usize) {
    println!(
        "\n== memory: {SLICES} agents that printed {lines} lines of typical output, {WIDTH}x{HEIGHT}, scrollback {SCROLLBACK}"
    );
    let file = dir.join("typical.txt");
    std::fs::write(&file, typical_output(lines)).expect("the output file");
    let last = format!("line {} done", lines - 1);
    let names: Vec<String> = (0..SLICES).map(|i| format!("m{i:02}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let slices: Vec<SliceName> = names.iter().map(|n| slice(n)).collect();

    // Ours.
    let agent = format!(
        "{} wait-for go-$SLICEBOARD_SLICE; cat '{}'; sleep 600",
        sync.command_line(),
        file.display()
    );
    let repo = Repo::create(bin, &dir.join("repo"), &names, &agent, SCROLLBACK);
    let supervisor = Agents::start(bin, &repo);
    let empty = procs::memory(supervisor.pid());
    for slice in &slices {
        supervisor.request(Command::StartAgent {
            slice: slice.clone(),
        });
    }
    resize_ours(&supervisor, &slices, (WIDTH, HEIGHT), None);
    for name in &names {
        sync.run(&["wait-for", "-S", &format!("go-{name}")]);
    }
    wait(
        || {
            supervisor
                .panes(&slices)
                .iter()
                .all(|pane| (0..usize::from(pane.rows)).any(|row| pane.row_text(row) == last))
        },
        "every agent to print its last line",
    );
    std::thread::sleep(Duration::from_secs(1));
    let filled = procs::memory(supervisor.pid());
    let history = supervisor.pane_history(&slices[0]);
    let mut steps = Vec::new();
    for size in CYCLE {
        resize_ours(&supervisor, &slices, size, Some(&last));
        std::thread::sleep(Duration::from_secs(1));
        steps.push((size, procs::memory(supervisor.pid())));
    }
    println!(
        "  supervisor: RSS {:.1} MiB with no agent; {:.1} MiB with {SLICES} filled ({history} lines of history each): \
         {:.1} MiB an agent",
        empty.rss_mib(),
        filled.rss_mib(),
        (filled.rss_mib() - empty.rss_mib()) / SLICES as f64
    );
    println!("  supervisor after each resize: {}", describe(&steps));
    drop(supervisor);

    // tmux: one server, 8 windows.
    let inner = Tmux::new(
        dir,
        "meminner",
        &[
            "set -g history-limit 10000",
            "set -g default-terminal tmux-256color",
        ],
    );
    inner.new_session("hold", WIDTH, HEIGHT, dir, "sleep 100000");
    let empty = procs::memory(inner.server_pid());
    let command = format!("cat '{}'; sleep 600", file.display());
    for i in 0..SLICES {
        if i == 0 {
            inner.new_session("agents", WIDTH, HEIGHT, dir, &command);
        } else {
            inner.run(&["new-window", "-d", "-t", &format!("agents:{i}"), &command]);
        }
    }
    for i in 0..SLICES {
        inner.wait_for(&format!("agents:{i}"), LIMIT, |s| s.contains(&last));
    }
    std::thread::sleep(Duration::from_secs(1));
    let filled = procs::memory(inner.server_pid());
    let mut steps = Vec::new();
    for (cols, rows) in CYCLE {
        for i in 0..SLICES {
            inner.run(&[
                "resize-window",
                "-t",
                &format!("agents:{i}"),
                "-x",
                &cols.to_string(),
                "-y",
                &rows.to_string(),
            ]);
        }
        std::thread::sleep(Duration::from_secs(1));
        steps.push(((cols, rows), procs::memory(inner.server_pid())));
    }
    println!(
        "  tmux server: RSS {:.1} MiB with one empty session; {:.1} MiB with {SLICES} filled windows: {:.1} MiB a window",
        empty.rss_mib(),
        filled.rss_mib(),
        (filled.rss_mib() - empty.rss_mib()) / SLICES as f64
    );
    println!("  tmux server after each resize: {}", describe(&steps));
}

/// Resizes every agent and waits until each pane reports the size (and,
/// once printed, still shows `last`).
fn resize_ours(
    supervisor: &Agents,
    slices: &[SliceName],
    (cols, rows): (u16, u16),
    last: Option<&str>,
) {
    for slice in slices {
        supervisor.request(Command::ResizeAgent {
            slice: slice.clone(),
            cols,
            rows,
        });
    }
    wait(
        || {
            supervisor.panes(slices).iter().all(|pane| {
                pane.cols == cols
                    && pane.rows == rows
                    && last.is_none_or(|last| {
                        (0..usize::from(pane.rows)).any(|row| pane.row_text(row).contains(last))
                    })
            })
        },
        "every agent to take the new size",
    );
}

fn wait(mut done: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + LIMIT;
    while !done() {
        assert!(Instant::now() < deadline, "waited {LIMIT:?} for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn describe(steps: &[((u16, u16), procs::Memory)]) -> String {
    steps
        .iter()
        .map(|((cols, rows), mem)| format!("{cols}x{rows} {:.1} MiB", mem.rss_mib()))
        .collect::<Vec<_>>()
        .join(" → ")
        + &format!(
            " (peak {:.1} MiB)",
            steps.last().map_or(0.0, |(_, mem)| mem.peak_mib())
        )
}
