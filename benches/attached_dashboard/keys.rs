//! The `keys` part: how long a key takes to reach the screen, measured
//! from outside as the operator meets it. A dashboard runs in a tmux pane
//! (200x50) over a supervisor with 8 agents; each round sends `j` with
//! `tmux send-keys` and captures the pane every millisecond until the
//! board's selection marker (`│>`) is on the next slice. First with the
//! agents quiet, then while all 8 flood their terminals (`seq` in a loop,
//! as fast as the PTYs take it), with the selected agent's pane shown.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::procs::Load;
use crate::rig::{Agents, Repo, Tmux, median, slice};
use sliceboard::domain::Command;

const SLICES: usize = 8;

pub fn keys(bin: &Path, dir: &Path, sync: &Tmux, rounds: usize) {
    println!("\n== keys: {SLICES} agents, `j` to the next slice, {rounds} rounds each");
    let names: Vec<String> = (0..SLICES).map(|i| format!("k{i:02}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let agent = format!(
        "echo quiet; {} wait-for go-$SLICEBOARD_SLICE; while :; do seq 1 100000; done",
        sync.command_line()
    );
    let repo = Repo::create(bin, &dir.join("repo"), &names, &agent, 10_000);
    let supervisor = Agents::start(bin, &repo);
    for name in &names {
        supervisor.request(Command::StartAgent { slice: slice(name) });
    }
    let term = Tmux::new(dir, "keys", &[]);
    term.new_session(
        "dash",
        200,
        50,
        &repo.root,
        &format!("{} -C {}", bin.display(), repo.root.display()),
    );
    term.wait_for("dash", Duration::from_secs(30), |s| {
        s.contains(&format!("{SLICES} slices"))
    });

    let load = Load::settle();
    let quiet = rounds_of_j(&term, &names, rounds);
    report("agents quiet", &quiet, &load);

    for name in &names {
        sync.run(&["wait-for", "-S", &format!("go-{name}")]);
    }
    // Let the flood reach its pace.
    std::thread::sleep(Duration::from_secs(2));
    let load = Load::now();
    let flooding = rounds_of_j(&term, &names, rounds);
    report("8 agents flooding", &flooding, &load);
    drop(term);
    drop(supervisor);
}

/// Presses `j` `rounds` times; each time, how long until the marker moved.
fn rounds_of_j(term: &Tmux, names: &[&str], rounds: usize) -> Vec<f64> {
    let selected = |screen: &str| -> Option<usize> {
        let line = screen.lines().find(|l| l.starts_with("│>"))?;
        names.iter().position(|n| line.contains(n))
    };
    let mut at = term
        .wait_for("dash", Duration::from_secs(10), |s| selected(s).is_some())
        .as_str()
        .to_owned();
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let now = selected(&at).unwrap_or(0);
        let next = (now + 1) % names.len();
        let start = Instant::now();
        term.run(&["send-keys", "-t", "dash", "j"]);
        let deadline = start + Duration::from_secs(10);
        loop {
            let screen = term.run(&["capture-pane", "-p", "-t", "dash"]);
            if selected(&screen) == Some(next) {
                times.push(start.elapsed().as_secs_f64() * 1e3);
                at = screen;
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the selection never reached {}:\n{screen}",
                names[next]
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        // Keys a person presses are not back to back.
        std::thread::sleep(Duration::from_millis(50));
    }
    times
}

fn report(what: &str, times: &[f64], load: &Load) {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    let p90 = sorted[((sorted.len() - 1) as f64 * 0.9).round() as usize];
    println!(
        "  {what}: key to screen median {:.1} ms, p90 {p90:.1} ms, max {:.1} ms, min {:.1} ms ({load})",
        median(times),
        sorted.last().copied().unwrap_or(0.0),
        sorted.first().copied().unwrap_or(0.0),
    );
}
