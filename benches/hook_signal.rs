//! What an agent's hook costs the agent: the wall time of `sliceboard
//! hook claude` (the command sliceboard adds to Claude Code's hooks) from
//! spawn to exit, with Claude Code's event JSON on stdin, as Claude Code
//! waits for it before going on. Also `sliceboard signal busy` run in a
//! worktree without `SLICEBOARD_SOCKET` (it looks the repository up
//! first), the same hook with no supervisor running, and `/bin/true` as
//! the floor of spawning any process.
//!
//! Setup: a temporary repository with a one-slice plan whose agent is
//! `sleep 600`, its worktree, `sliceboard supervise` started and the agent
//! running. Each figure is `SB_HOOK_RUNS` runs (default 300), one at a
//! time, reported as median, p90, p99 and max.
//!
//! Run with `cargo bench --bench hook_signal` (cargo builds the binary
//! with the release settings); `SB_BIN` picks another binary. Everything
//! lives in one temporary folder with `HOME` inside it; the supervisor is
//! stopped also when the bench fails.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sliceboard::domain::{Command as SbCommand, SliceName};

const PAYLOAD: &str = r#"{"session_id":"5d0c","transcript_path":"/tmp/t.jsonl","cwd":"/tmp","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"dbt build --select stg_orders"}}"#;

#[path = "common/supervised.rs"]
mod supervised;
use supervised::{binary, isolated as sandboxed, runs, supervise};

fn main() {
    let bin = binary();
    let runs = runs("SB_HOOK_RUNS", 300);
    let dir = tempfile::tempdir().unwrap();
    let top = dir.path().canonicalize().unwrap();
    let root = top.join("shop");
    let home = top.join("home");
    std::fs::create_dir_all(root.join("models")).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(root.join("models/a.sql"), "select 1\n").unwrap();
    std::fs::write(
        root.join("sliceboard.toml"),
        "base = \"main\"\n\n[agent]\ncommand = \"sleep 600\"\n\n[[slice]]\nname = \"staging\"\nowns = [\"models/**\"]\n",
    )
    .unwrap();
    let git = |args: &[&str]| {
        let ok = sandboxed(Command::new("git"), &home)
            .args(args)
            .current_dir(&root)
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "initial"]);
    let ok = sandboxed(Command::new(&bin), &home)
        .arg("up")
        .current_dir(&root)
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "sliceboard up");
    let socket = root.join(".git/sliceboard/supervisor.sock");
    let (sup, mut link) = supervise(&bin, &root, &home);
    let slice = SliceName::parse("staging").unwrap();
    link.request(SbCommand::StartAgent {
        slice: slice.clone(),
    })
    .unwrap()
    .unwrap();
    let worktree = top.join("shop.slices/staging");

    println!("{runs} runs each, one at a time; wall time from spawn to exit\n");
    println!("| what | median | p90 | p99 | max |");
    println!("|---|---|---|---|---|");
    let hook = || {
        let mut command = sandboxed(Command::new(&bin), &home);
        command
            .args(["hook", "claude"])
            .current_dir(&worktree)
            .env("SLICEBOARD_SLICE", "staging")
            .env("SLICEBOARD_SOCKET", &socket);
        command
    };
    // The hook must really be delivered, not refused or lost.
    let mut child = hook()
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(PAYLOAD.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.stderr.is_empty(),
        "the hook was not delivered: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    report(
        "/bin/true (spawning any process)",
        runs,
        || Command::new("/bin/true"),
        None,
    );
    report(
        "`sliceboard hook claude`, supervisor running",
        runs,
        hook,
        Some(PAYLOAD),
    );
    report(
        "`sliceboard signal busy` in the worktree, no SLICEBOARD_SOCKET",
        runs,
        || {
            let mut command = sandboxed(Command::new(&bin), &home);
            command
                .args(["signal", "busy"])
                .current_dir(&worktree)
                .env("SLICEBOARD_SLICE", "staging");
            command
        },
        None,
    );
    drop(link);
    drop(sup);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::os::unix::net::UnixStream::connect(&socket).is_ok() {
        assert!(Instant::now() < deadline, "the supervisor did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    report(
        "`sliceboard hook claude`, no supervisor",
        runs,
        hook,
        Some(PAYLOAD),
    );
}

fn report(what: &str, runs: usize, make: impl Fn() -> Command, stdin: Option<&str>) {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let mut command = make();
            command
                .stdin(if stdin.is_some() {
                    Stdio::piped()
                } else {
                    Stdio::null()
                })
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let start = Instant::now();
            let mut child = command.spawn().unwrap();
            if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
                let _ = pipe.write_all(text.as_bytes());
            }
            let status = child.wait().unwrap();
            let took = start.elapsed();
            assert!(status.success(), "{what} failed");
            took
        })
        .collect();
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1e3);
    println!(
        "| {what} | {} | {} | {} | {} |",
        ms(at(0.5)),
        ms(at(0.9)),
        ms(at(0.99)),
        ms(at(1.0))
    );
}
