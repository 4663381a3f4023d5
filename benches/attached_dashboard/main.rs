//! The supervisor and an attached dashboard, measured as the operator meets
//! them: in a real terminal (a tmux pane standing in for it), with the
//! same work done by tmux (a tmux client attached in a tmux pane) beside
//! it, in the same run. Four parts:
//!
//! - `drain`: an agent `cat`s 50 MiB of colored text while a dashboard
//!   shows its pane full screen; timed from the agent's go (it waits on a
//!   `tmux wait-for` channel first, so spawning is not timed) until it
//!   signals `done` after `cat`, then until the terminal shows the round's
//!   marker, printed after the file. Beside it, in each round: another
//!   agent of the same supervisor whose pane nobody shows (the session
//!   without the dashboard's path), the same command in a tmux session
//!   (`history-limit 10000`) whose client runs in a pane of another tmux
//!   server, and in one with no client (as benches/tmux_drain.sh).
//! - `attach`: a supervisor with 10 agents, each having printed 20,000
//!   lines (scrollback 10,000); time from `tmux new-session` running
//!   `sliceboard` until the pane shows the board's title and the selected
//!   agent's last line, against `printf` in tmux (the floor). The first
//!   attach, which resizes the agent to its pane, is timed apart.
//! - `idle`: 8 agents that printed 20,000 lines and sleep, one dashboard
//!   attached; CPU of each process over a minute, and their memory; the
//!   same for tmux with 8 such windows and a client attached.
//! - `keys`: key-to-screen latency of `j` on the board, 8 agents quiet,
//!   then flooding (see `keys.rs`).
//! - `calls`: from an agent's `waiting` signal to the OSC 9 notification
//!   in the bytes an attached dashboard writes to its terminal (a raw pty
//!   of the bench's own; see `calls.rs`).
//! - `memory`: the supervisor's RSS with 8 agents that printed 5,000 lines
//!   of typical output, and after a cycle of resizes, beside tmux (see
//!   `memory.rs`).
//!
//! Run (cargo builds the `sliceboard` binary for the bench, with the
//! release settings):
//!
//! ```sh
//! SB_BENCH_ONLY=generate SB_BENCH_FILE=/tmp/sbbench/colored.txt cargo bench --bench pty_drain
//! SB_BENCH_FILE=/tmp/sbbench/colored.txt cargo bench --bench attached_dashboard
//! ```
//!
//! Environment: `SB_ATTACH_PARTS` (default `drain,attach,idle,keys,memory`;
//! `calls` runs only when named), `SB_CALL_ROUNDS` (default 40),
//! `SB_MEM_LINES` (lines each agent prints in `memory`, default 5,000),
//! `SB_KEY_ROUNDS` (keys rounds, default 40),
//! `SB_BENCH_RUNS` (drain rounds, default 5), `SB_ATTACH_ROUNDS` (attach
//! rounds, default 10), `SB_IDLE_SECS` (default 60), `SB_BIN` (the binary;
//! default the one cargo built for this bench). Every measurement first
//! waits (up to 3 minutes) for a second in which the machine is quiet
//! (under 0.3 of its cores busy) and prints the load next to the figure.
//! Everything runs in one temporary folder with `HOME` inside it, git
//! with no user or system config, tmux on private sockets with config
//! files of our own; every supervisor is stopped (`sliceboard stop`) and
//! every tmux server killed at the end, also when a part fails.

mod calls;
mod keys;
mod memory;
mod procs;
mod rig;
#[path = "../common/typical_output.rs"]
mod typical_output;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use procs::{Cpu, Load};
use rig::{Agents, Repo, Tmux, summary};
use sliceboard::domain::Command;

/// The size of the generated input (see benches/pty_drain.rs).
const INPUT_BYTES: u64 = 50 * 1024 * 1024;
const SCROLLBACK: usize = 10_000;
const WIDTH: u16 = 200;
const HEIGHT: u16 = 50;
/// How often a tmux pane is captured while waiting for something on it.
const POLL: Duration = Duration::from_millis(5);
const LIMIT: Duration = Duration::from_secs(120);

fn main() {
    let tmp = tempfile::Builder::new()
        .prefix("sb-attached.")
        .tempdir()
        .expect("temporary directory");
    rig::fixed_environment(tmp.path());
    let bin = std::env::var_os("SB_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_sliceboard")));
    let bin = bin.canonicalize().expect("the sliceboard binary");
    let parts =
        std::env::var("SB_ATTACH_PARTS").unwrap_or_else(|_| "drain,attach,idle,keys,memory".into());
    let number = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    println!("sliceboard attached: {}", bin.display());
    println!("  {}", procs::machine());
    println!("  temporary folder {}", tmp.path().display());
    let sync = Tmux::new(tmp.path(), "sync", &[]);
    sync.run(&["new-session", "-d", "-s", "hold", "sleep 100000"]);
    for part in parts.split(',') {
        let dir = tmp.path().join(part);
        std::fs::create_dir_all(&dir).expect("part folder");
        match part {
            "drain" => drain(&bin, &dir, &sync, number("SB_BENCH_RUNS", 5)),
            "attach" => attach(&bin, &dir, &sync, number("SB_ATTACH_ROUNDS", 10)),
            "idle" => idle(&bin, &dir, &sync, number("SB_IDLE_SECS", 60) as u64),
            "keys" => keys::keys(&bin, &dir, &sync, number("SB_KEY_ROUNDS", 40)),
            "memory" => memory::memory(&bin, &dir, &sync, number("SB_MEM_LINES", 5_000)),
            "calls" => calls::calls(&bin, &dir, &sync, number("SB_CALL_ROUNDS", 40)),
            other => {
                panic!("unknown part {other:?}: want drain, attach, idle, keys, memory or calls")
            }
        }
    }
}

/// The input file, as benches/pty_drain.rs writes it.
fn input_file() -> PathBuf {
    let input = std::env::var_os("SB_BENCH_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/sbbench/colored.txt"));
    let len = std::fs::metadata(&input).map(|m| m.len()).unwrap_or(0);
    assert_eq!(
        len,
        INPUT_BYTES,
        "no 50 MiB input at {}; write it with `SB_BENCH_ONLY=generate SB_BENCH_FILE={} cargo bench --bench pty_drain`",
        input.display(),
        input.display()
    );
    input
}

// ---------------------------------------------------------------------------
// drain

/// What one round of the drain times, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// Our agent, its pane full screen on an attached dashboard.
    Shown,
    /// Another agent of the same supervisor, while the dashboard shows the
    /// first: the session and transcript without any rendering.
    Unshown,
    /// tmux with a client attached (in a pane of the outer tmux).
    TmuxClient,
    /// tmux with no client, as benches/tmux_drain.sh.
    TmuxDetached,
}

impl Variant {
    const ALL: [Variant; 4] = [
        Variant::Shown,
        Variant::Unshown,
        Variant::TmuxClient,
        Variant::TmuxDetached,
    ];

    fn label(self) -> &'static str {
        match self {
            Variant::Shown => "ours, pane shown",
            Variant::Unshown => "ours, pane not shown",
            Variant::TmuxClient => "tmux, client attached",
            Variant::TmuxDetached => "tmux, no client",
        }
    }
}

fn drain(bin: &Path, dir: &Path, sync: &Tmux, runs: usize) {
    let input = input_file();
    println!(
        "\n== drain: cat of {} ({INPUT_BYTES} bytes)",
        input.display()
    );
    // Each agent waits for its go, prints the round's marker (from a file)
    // after the input and signals its done; it stays a second longer, so
    // that its reader thread is still there to be read from /proc.
    let agent = format!(
        "{sync} wait-for go-$SLICEBOARD_SLICE; stty size > \"{dir}/size-$SLICEBOARD_SLICE\"; cat '{input}'; cat \"{dir}/marker-$SLICEBOARD_SLICE\"; {sync} wait-for -S done-$SLICEBOARD_SLICE; sleep 1",
        sync = sync.command_line(),
        dir = dir.display(),
        input = input.display(),
    );
    let repo = Repo::create(
        bin,
        &dir.join("repo"),
        &["drain", "solo"],
        &agent,
        SCROLLBACK,
    );
    let supervisor = Agents::start(bin, &repo);
    let shown = rig::slice("drain");
    let solo = rig::slice("solo");
    let marker = |slice: &str, mark: &str| {
        std::fs::write(dir.join(format!("marker-{slice}")), format!("{mark}\n")).unwrap();
    };
    // The outer terminal: one tmux server, no status line, so a pane is
    // the whole 200x50 window; no client is attached to it.
    let outer = Tmux::new(
        dir,
        "outer",
        &["set -g status off", "set -g default-terminal tmux-256color"],
    );
    outer.run(&["new-session", "-d", "-s", "hold", "sleep 100000"]);
    let inner_conf = [
        "set -g history-limit 10000",
        "set -g default-terminal tmux-256color",
    ];

    // Our dashboard, attached the whole time, full screen on `drain`.
    marker("drain", "ROUND-0-END");
    supervisor.request(Command::StartAgent {
        slice: shown.clone(),
    });
    outer.new_session(
        "dash",
        WIDTH,
        HEIGHT,
        &repo.root,
        &format!("exec '{}'", bin.display()),
    );
    outer.wait_for("dash", LIMIT, |screen| screen.contains(" solo "));
    outer.run(&["send-keys", "-t", "dash", "f"]);
    std::thread::sleep(Duration::from_millis(500));
    let dashboard = outer.pane_pid("dash");
    // A first run of each agent, unmeasured: `drain` only waited to be
    // sized by the dashboard; `solo` gets the same size by request.
    sync.run(&["wait-for", "-S", "go-drain"]);
    sync.run(&["wait-for", "done-drain"]);
    outer.wait_for("dash", LIMIT, |s| s.contains("ROUND-0-END"));
    let size = std::fs::read_to_string(dir.join("size-drain")).expect("the pane's size");
    let (rows, cols) = size.trim().split_once(' ').expect("stty size: rows cols");
    marker("solo", "ROUND-0-END");
    supervisor.request(Command::StartAgent {
        slice: solo.clone(),
    });
    supervisor.request(Command::ResizeAgent {
        slice: solo.clone(),
        cols: cols.parse().unwrap(),
        rows: rows.parse().unwrap(),
    });
    sync.run(&["wait-for", "-S", "go-solo"]);
    sync.run(&["wait-for", "done-solo"]);

    let mut runs_of: Vec<Vec<DrainRun>> = vec![Vec::new(); Variant::ALL.len()];
    for round in 1..=runs {
        let mark = format!("ROUND-{round}-END");
        for (at, variant) in Variant::ALL.into_iter().enumerate() {
            let load = Load::settle();
            let ran = match variant {
                Variant::Shown | Variant::Unshown => {
                    let (slice, seen) = match variant {
                        Variant::Shown => (&shown, Some((&outer, "dash"))),
                        _ => (&solo, None),
                    };
                    marker(slice.as_str(), &mark);
                    // Restarted, the agent waits for its go at the size
                    // it had.
                    supervisor.request(Command::StartAgent {
                        slice: slice.clone(),
                    });
                    std::thread::sleep(Duration::from_millis(1000));
                    let pids = [
                        ("supervisor", supervisor.pid()),
                        ("dashboard", dashboard),
                        ("terminal (tmux)", outer.server_pid()),
                    ];
                    timed_drain(sync, slice.as_str(), seen, &mark, &pids)
                }
                Variant::TmuxClient | Variant::TmuxDetached => {
                    let name = if variant == Variant::TmuxClient {
                        "tmux"
                    } else {
                        "tmuxd"
                    };
                    let inner = Tmux::new(dir, &format!("{name}{round}"), &inner_conf);
                    let command = format!(
                        "{sync} wait-for go-{name}; stty size > '{dir}/size-{name}'; cat '{input}'; echo {mark}; {sync} wait-for -S done-{name}; sleep 600",
                        sync = sync.command_line(),
                        dir = dir.display(),
                        input = input.display(),
                    );
                    inner.new_session("drain", WIDTH, HEIGHT, dir, &command);
                    let mut pids = vec![("tmux server", inner.server_pid())];
                    let view = format!("view{round}");
                    if variant == Variant::TmuxClient {
                        outer.new_session(
                            &view,
                            WIDTH,
                            HEIGHT,
                            dir,
                            &format!("exec {} attach -t drain", inner.command_line()),
                        );
                        let wanted = format!("{WIDTH}x{}", HEIGHT - 1);
                        rig::wait_until(
                            LIMIT,
                            || {
                                let size = inner.run(&[
                                    "display-message",
                                    "-p",
                                    "-t",
                                    "drain",
                                    "#{window_width}x#{window_height}",
                                ]);
                                size.trim() == wanted
                            },
                            "the tmux client to attach and resize the window",
                        );
                        pids.push(("tmux client", outer.pane_pid(&view)));
                        pids.push(("terminal (tmux)", outer.server_pid()));
                    }
                    std::thread::sleep(Duration::from_millis(1000));
                    let seen = (variant == Variant::TmuxClient).then_some((&outer, view.as_str()));
                    // The client in `view` ends with its server when
                    // `inner` is dropped, and the session with it.
                    timed_drain(sync, name, seen, &mark, &pids)
                }
            };
            println!(
                "  round {round} {}: {}  [{load}]",
                variant.label(),
                ran.describe()
            );
            runs_of[at].push(ran);
        }
    }
    let size = |name: &str| {
        std::fs::read_to_string(dir.join(format!("size-{name}")))
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    println!(
        "  pane sizes (stty size: rows cols): ours {} and {}, tmux {} and {}",
        size("drain"),
        size("solo"),
        size("tmux"),
        size("tmuxd")
    );
    for slice in [&shown, &solo] {
        // Rows leave the grid for the compact history in batches: full
        // within a batch and a screen.
        let history = supervisor.pane_history(slice);
        assert!(
            (SCROLLBACK - 512..=SCROLLBACK).contains(&history),
            "{slice}'s scrollback is not full: {history}"
        );
    }
    let mb = INPUT_BYTES as f64 / 1e6;
    let mut medians = Vec::new();
    for (variant, runs) in Variant::ALL.into_iter().zip(&runs_of) {
        let done: Vec<f64> = runs.iter().map(|r| r.done).collect();
        let shown: Vec<f64> = runs.iter().filter_map(|r| r.shown).collect();
        let median = rig::median(&done);
        medians.push(median);
        print!(
            "  {}: to done {} ({:.1} MB/s median)",
            variant.label(),
            summary(&done, "s"),
            mb / median
        );
        if shown.is_empty() {
            println!();
        } else {
            println!(", to shown {}", summary(&shown, "s"));
        }
    }
    println!(
        "  medians: tmux with a client / ours shown = {:.2}x; tmux with no client / ours not shown = {:.2}x; showing the pane costs ours {:+.3} s",
        medians[2] / medians[0],
        medians[3] / medians[1],
        medians[0] - medians[1]
    );
    drop(outer);
    drop(supervisor);
}

/// One timed drain and what each process spent meanwhile.
#[derive(Clone)]
struct DrainRun {
    done: f64,
    shown: Option<f64>,
    cpu: Vec<(&'static str, f64)>,
    /// The first process's threads, by name.
    threads: Vec<(String, f64)>,
    machine: f64,
}

impl DrainRun {
    fn describe(&self) -> String {
        let cpu: Vec<String> = self
            .cpu
            .iter()
            .map(|(name, secs)| format!("{name} {secs:.2}"))
            .collect();
        let shown = self
            .shown
            .map_or(String::new(), |s| format!(", shown {s:.3} s"));
        let threads: Vec<String> = self
            .threads
            .iter()
            .take(4)
            .map(|(name, secs)| format!("{name} {secs:.2}"))
            .collect();
        format!(
            "done {:.3} s{shown}; CPU s: {} ({}); whole machine {:.2} of 2 cores",
            self.done,
            cpu.join(", "),
            threads.join(", "),
            self.machine
        )
    }
}

/// Lets the agent waiting on `go-NAME` go and times it until `done-NAME`,
/// then (when it is on a screen) until `seen`'s pane shows `mark`.
fn timed_drain(
    sync: &Tmux,
    name: &str,
    seen: Option<(&Tmux, &str)>,
    mark: &str,
    pids: &[(&'static str, i32)],
) -> DrainRun {
    let before: Vec<Cpu> = pids.iter().map(|(_, pid)| Cpu::of(*pid)).collect();
    let threads = procs::threads(pids[0].1);
    let machine = procs::machine_busy();
    let mut waiter = sync.spawn(&["wait-for", &format!("done-{name}")]);
    // Let the waiter connect before the go.
    std::thread::sleep(Duration::from_millis(100));
    let start = Instant::now();
    sync.run(&["wait-for", "-S", &format!("go-{name}")]);
    let status = waiter.wait().expect("tmux wait-for");
    let done = start.elapsed().as_secs_f64();
    assert!(status.success(), "tmux wait-for done-{name} failed");
    let machine = procs::machine_busy() - machine;
    let threads = procs::threads_since(&threads, &procs::threads(pids[0].1));
    let cpu = pids
        .iter()
        .zip(&before)
        .map(|((name, pid), before)| (*name, Cpu::of(*pid).secs_since(before)))
        .collect();
    let shown = seen.map(|(term, target)| {
        term.wait_for(target, LIMIT, |screen| screen.contains(mark));
        start.elapsed().as_secs_f64()
    });
    DrainRun {
        done,
        shown,
        cpu,
        threads,
        machine: machine / done,
    }
}

// ---------------------------------------------------------------------------
// attach

fn attach(bin: &Path, dir: &Path, sync: &Tmux, rounds: usize) {
    const SLICES: usize = 10;
    println!("\n== attach: {SLICES} agents with {SCROLLBACK} lines of scrollback");
    let names: Vec<String> = (0..SLICES).map(|i| format!("s{i:02}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let agent = format!(
        "{} wait-for go-$SLICEBOARD_SLICE; seq 20000; sleep 600",
        sync.command_line()
    );
    let repo = Repo::create(bin, &dir.join("repo"), &names, &agent, SCROLLBACK);
    let supervisor = Agents::start(bin, &repo);
    let rss_empty = procs::memory(supervisor.pid());
    supervisor.start_filled(sync, &names, WIDTH, HEIGHT);
    let rss_full = procs::memory(supervisor.pid());
    println!(
        "  supervisor RSS {:.1} MiB before the agents, {:.1} MiB with {SLICES} filled ({WIDTH}x{HEIGHT})",
        rss_empty.rss_mib(),
        rss_full.rss_mib()
    );

    // Like benches/first_frame.sh: one server for every round.
    let term = Tmux::new(dir, "term", &[]);
    term.run(&["new-session", "-d", "-s", "hold", "sleep 100000"]);
    let title = format!("{SLICES} slices");
    // The first attach resizes the selected agent from 200x50 to the
    // pane it gets; later ones find it at that size already, as an
    // operator who attaches again from the same terminal does.
    let first = time_dashboard(
        &term,
        "prime",
        bin,
        &repo.root,
        &title,
        Duration::from_secs(3),
    );
    println!(
        "  first attach (resizes the agent): board drawn {:.1} ms, pane shown {}",
        first.board * 1e3,
        first.pane.map_or("not within 3 s".to_owned(), |p| format!(
            "{:.1} ms",
            p * 1e3
        ))
    );
    let (mut floors, mut boards, mut panes) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        let load = Load::settle();
        let name = format!("floor{round}");
        let start = Instant::now();
        term.new_session(&name, WIDTH, HEIGHT, dir, "printf ready; sleep 600");
        term.wait_for(&name, LIMIT, |s| s.contains("ready"));
        let floor = start.elapsed().as_secs_f64();
        term.run(&["kill-session", "-t", &name]);

        let timed = time_dashboard(
            &term,
            &format!("board{round}"),
            bin,
            &repo.root,
            &title,
            LIMIT,
        );
        let pane = timed.pane.expect("the pane within the limit");
        println!(
            "  round {round:2}: floor {:6.1} ms, board drawn {:6.1} ms, pane shown {:6.1} ms  [{load}]",
            floor * 1e3,
            timed.board * 1e3,
            pane * 1e3
        );
        floors.push(floor * 1e3);
        boards.push(timed.board * 1e3);
        panes.push(pane * 1e3);
    }
    println!("  floor (printf):  {}", summary(&floors, "ms"));
    println!("  board drawn:     {}", summary(&boards, "ms"));
    println!("  pane shown:      {}", summary(&panes, "ms"));
    println!(
        "  minus the floor (medians): board {:.1} ms, pane {:.1} ms",
        rig::median(&boards) - rig::median(&floors),
        rig::median(&panes) - rig::median(&floors)
    );
    drop(term);
    drop(supervisor);
}

/// When a dashboard started in a new tmux session showed a whole board,
/// and when its pane showed the agent's last line (`None` if not within
/// `pane_limit`), in seconds from just before `new-session`.
struct Attach {
    board: f64,
    pane: Option<f64>,
}

fn time_dashboard(
    term: &Tmux,
    name: &str,
    bin: &Path,
    repo: &Path,
    title: &str,
    pane_limit: Duration,
) -> Attach {
    let command = format!("'{}'; echo SB-EXITED-$?; sleep 600", bin.display());
    let start = Instant::now();
    term.new_session(name, WIDTH, HEIGHT, repo, &command);
    let screen = term.wait_for(name, LIMIT, |screen| {
        let last = screen.trim_end().lines().last().unwrap_or("");
        screen.contains(title) && last.contains("detach")
    });
    let board = start.elapsed().as_secs_f64();
    let mut pane = None;
    if shows_word(&screen, "20000") {
        pane = Some(board);
    } else {
        let deadline = Instant::now() + pane_limit;
        while Instant::now() < deadline {
            let screen = term.run(&["capture-pane", "-p", "-t", name]);
            if shows_word(&screen, "20000") {
                pane = Some(start.elapsed().as_secs_f64());
                assert!(
                    screen.contains("19999"),
                    "the pane does not show the last lines:\n{screen}"
                );
                break;
            }
            std::thread::sleep(POLL);
        }
    }
    term.run(&["send-keys", "-t", name, "q"]);
    term.wait_for(name, LIMIT, |s| s.contains("SB-EXITED-0"));
    term.run(&["kill-session", "-t", name]);
    Attach { board, pane }
}

// ---------------------------------------------------------------------------
// idle

fn idle(bin: &Path, dir: &Path, sync: &Tmux, secs: u64) {
    const SLICES: usize = 8;
    println!("\n== idle: {SLICES} agents that printed 20,000 lines, {secs} s");
    let names: Vec<String> = (0..SLICES).map(|i| format!("s{i:02}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let agent = format!(
        "{} wait-for go-$SLICEBOARD_SLICE; seq 20000; sleep 600",
        sync.command_line()
    );
    let repo = Repo::create(bin, &dir.join("repo"), &names, &agent, SCROLLBACK);
    let supervisor = Agents::start(bin, &repo);
    let empty = procs::memory(supervisor.pid());
    supervisor.start_filled(sync, &names, WIDTH, HEIGHT);
    let filled = procs::memory(supervisor.pid());

    let outer = Tmux::new(
        dir,
        "outer",
        &["set -g status off", "set -g default-terminal tmux-256color"],
    );
    outer.new_session(
        "dash",
        WIDTH,
        HEIGHT,
        &repo.root,
        &format!("exec '{}'", bin.display()),
    );
    outer.wait_for("dash", LIMIT, |screen| screen.contains(" s07 "));
    let dashboard = outer.pane_pid("dash");
    idle_round(
        "ours",
        &[
            ("supervisor", supervisor.pid()),
            ("dashboard", dashboard),
            ("terminal (tmux)", outer.server_pid()),
        ],
        secs,
    );
    let supervisor_mem = procs::memory(supervisor.pid());
    let dashboard_mem = procs::memory(dashboard);
    println!(
        "  supervisor: RSS {:.1} MiB with no agent, {:.1} MiB with {SLICES} filled, {:.1} MiB now (peak {:.1} MiB)",
        empty.rss_mib(),
        filled.rss_mib(),
        supervisor_mem.rss_mib(),
        supervisor_mem.peak_mib()
    );
    println!(
        "  dashboard (one pane shown): RSS {:.1} MiB (peak {:.1} MiB)",
        dashboard_mem.rss_mib(),
        dashboard_mem.peak_mib()
    );
    // Every pane on screen at once.
    outer.run(&["send-keys", "-t", "dash", "g"]);
    std::thread::sleep(Duration::from_secs(3));
    let grid = procs::memory(dashboard);
    let resized = procs::memory(supervisor.pid());
    println!(
        "  dashboard (grid of all {SLICES} panes): RSS {:.1} MiB (peak {:.1} MiB); supervisor, every agent resized to its cell: RSS {:.1} MiB (peak {:.1} MiB)",
        grid.rss_mib(),
        grid.peak_mib(),
        resized.rss_mib(),
        resized.peak_mib()
    );
    let screen = outer.run(&["capture-pane", "-p", "-t", "dash"]);
    let shown = names
        .iter()
        .filter(|n| screen.contains(&format!(" {n} ")))
        .count();
    assert_eq!(
        shown, SLICES,
        "the grid does not show every pane:\n{screen}"
    );
    drop(outer);
    drop(supervisor);

    // tmux: 8 windows of one session, a client attached in a pane.
    let inner = Tmux::new(
        dir,
        "idleinner",
        &[
            "set -g history-limit 10000",
            "set -g default-terminal tmux-256color",
        ],
    );
    inner.new_session("hold", WIDTH, HEIGHT, dir, "sleep 100000");
    let empty = procs::memory(inner.server_pid());
    for (i, name) in names.iter().enumerate() {
        let target = format!("agents:{i}");
        if i == 0 {
            inner.new_session("agents", WIDTH, HEIGHT, dir, "seq 20000; sleep 600");
        } else {
            inner.run(&[
                "new-window",
                "-d",
                "-t",
                &target,
                "-n",
                name,
                "seq 20000; sleep 600",
            ]);
        }
    }
    for i in 0..names.len() {
        let target = format!("agents:{i}");
        inner.wait_for(&target, LIMIT, |s| s.contains("20000"));
    }
    let outer = Tmux::new(
        dir,
        "outer2",
        &["set -g status off", "set -g default-terminal tmux-256color"],
    );
    outer.new_session(
        "view",
        WIDTH,
        HEIGHT,
        dir,
        &format!("exec {} attach -t agents", inner.command_line()),
    );
    outer.wait_for("view", LIMIT, |s| s.contains("19999"));
    let client = outer.pane_pid("view");
    idle_round(
        "tmux",
        &[
            ("tmux server", inner.server_pid()),
            ("tmux client", client),
            ("terminal (tmux)", outer.server_pid()),
        ],
        secs,
    );
    let server = procs::memory(inner.server_pid());
    let client_mem = procs::memory(client);
    println!(
        "  tmux server: RSS {:.1} MiB with one empty session, {:.1} MiB with {SLICES} filled windows (peak {:.1} MiB); client RSS {:.1} MiB",
        empty.rss_mib(),
        server.rss_mib(),
        server.peak_mib(),
        client_mem.rss_mib()
    );
}

/// Whether some line of `screen` holds `word` between blanks or borders.
/// 5 s to settle, a quiet machine, then `secs` in which nothing is
/// touched: each process's CPU, printed under `label`.
fn idle_round(label: &str, processes: &[(&str, i32)], secs: u64) {
    std::thread::sleep(Duration::from_secs(5));
    let load = Load::settle();
    let lines = procs::idle_cpu(processes, Duration::from_secs(secs));
    let after = Load::now();
    println!("  {label}, {secs} s  [{load} -> {after}]:");
    for line in &lines {
        println!("    {line}");
    }
}

fn shows_word(screen: &str, word: &str) -> bool {
    screen.lines().any(|line| {
        line.split(|c: char| c.is_whitespace() || c == '│')
            .any(|w| w == word)
    })
}
