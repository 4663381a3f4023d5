//! What a sandbox adds to an agent's start: the time from the operator's
//! start request reaching the supervisor to the agent's first command
//! running in its worktree, for an agent without a sandbox and one in
//! bubblewrap with `network = "none"` (its own mount, pid, ipc, uts and
//! network namespaces), alternating.
//!
//! Setup: a temporary repository with two slices, `plain` and `boxed`,
//! whose agent writes the time (`date +%s%N`) into its worktree, then
//! sleeps; `sliceboard supervise` running. Each run removes the file,
//! asks for the start over the socket (as `s` on the board does), waits
//! for the file, then kills the agent and waits for its end. Reported as
//! median, p90 and max of `SB_SANDBOX_RUNS` runs (default 40) each.
//!
//! Run with `cargo bench --bench sandbox_start`; `SB_BIN` picks another
//! binary. Needs bubblewrap (`apt-get install bubblewrap`).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sliceboard::domain::{Command as SbCommand, SliceName};

#[path = "common/supervised.rs"]
mod supervised;
use supervised::{binary, isolated, runs, supervise};

const PLAN: &str = r#"base = "main"
max_running = 4

[agent]
command = "date +%s%N > started.tmp && mv started.tmp started; exec sleep 600"

[[slice]]
name = "plain"
owns = ["models/plain/**"]

[[slice]]
name = "boxed"
owns = ["models/boxed/**"]
sandbox = "bubblewrap"
network = "none"
"#;

fn main() {
    let bin = binary();
    let runs = runs("SB_SANDBOX_RUNS", 40);
    let dir = tempfile::tempdir().unwrap();
    let top = dir.path().canonicalize().unwrap();
    let root = top.join("shop");
    let home = top.join("home");
    for folder in ["models/plain", "models/boxed"] {
        std::fs::create_dir_all(root.join(folder)).unwrap();
        std::fs::write(root.join(folder).join("a.sql"), "select 1\n").unwrap();
    }
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(root.join("sliceboard.toml"), PLAN).unwrap();
    let run = |program: &Path, args: &[&str]| {
        let ok = isolated(Command::new(program), &home)
            .args(args)
            .current_dir(&root)
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "{} {args:?}", program.display());
    };
    let git = Path::new("git");
    run(git, &["init", "-q", "-b", "main"]);
    run(git, &["add", "-A"]);
    run(git, &["commit", "-qm", "initial"]);
    run(&bin, &["up"]);
    run(&bin, &["check"]);
    let (_sup, mut link) = supervise(&bin, &root, &home);
    let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    let slices = ["plain", "boxed"];
    // One start of each first, unmeasured: the supervisor checks once
    // that bubblewrap starts here.
    for round in 0..=runs {
        for (i, name) in slices.iter().enumerate() {
            let slice = SliceName::parse(name).unwrap();
            let file = top.join("shop.slices").join(name).join("started");
            let _ = std::fs::remove_file(&file);
            // Refused while the last run's end is still on its way.
            let waited = Instant::now();
            let (asked, started) = loop {
                let asked = SystemTime::now();
                let started = Instant::now();
                match link
                    .request(SbCommand::StartAgent {
                        slice: slice.clone(),
                    })
                    .unwrap()
                {
                    Ok(_) => break (asked, started),
                    Err(err) => {
                        assert!(
                            waited.elapsed() < Duration::from_secs(20),
                            "{name} did not start: {err}"
                        );
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
            };
            let text = loop {
                if let Ok(text) = std::fs::read_to_string(&file) {
                    break text;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(20),
                    "{name} never ran"
                );
                std::thread::sleep(Duration::from_millis(1));
            };
            let ran: u128 = text.trim().parse().unwrap();
            let asked = asked.duration_since(UNIX_EPOCH).unwrap().as_nanos();
            let took = Duration::from_nanos(u64::try_from(ran.saturating_sub(asked)).unwrap());
            if round > 0 {
                times[i].push(took);
            }
            link.request(SbCommand::KillAgent { slice })
                .unwrap()
                .unwrap();
        }
    }
    println!(
        "{runs} starts each, alternating; from the start request to the agent's first command\n"
    );
    println!("| agent | median | p90 | max |");
    println!("|---|---|---|---|");
    for (name, mut times) in ["no sandbox", "bubblewrap, network none"]
        .into_iter()
        .zip(times)
    {
        times.sort();
        let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        println!(
            "| {name} | {:.1} ms | {:.1} ms | {:.1} ms |",
            at(0.5).as_secs_f64() * 1e3,
            at(0.9).as_secs_f64() * 1e3,
            at(1.0).as_secs_f64() * 1e3
        );
    }
}
