//! The `calls` part: how long a call takes to reach the operator's
//! terminal while a dashboard is attached. The dashboard runs in a pty of
//! our own (200x50, no tmux between, so the bytes are the dashboard's own)
//! whose output a thread reads and timestamps as it arrives. Each round
//! signals one of 8 agents `waiting` over the socket (as a hook does) and
//! times until the OSC 9 notification for that slice is in the bytes read;
//! then `busy`, so the next round's wait is a transition again. The slices
//! take turns, 700 ms apart, so a slice waits again only after the 5 s
//! debounce and no call is swallowed.

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::procs::Load;
use crate::rig::{Agents, Repo, Tmux, median, slice, summary, wait_until};
use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use sliceboard::domain::{Activity, Command};

const SLICES: usize = 8;

/// Every byte read from the pty, and where each read ended with when it
/// returned.
type Seen = Arc<Mutex<(Vec<u8>, Vec<(usize, Instant)>)>>;

pub fn calls(bin: &Path, dir: &Path, _sync: &Tmux, rounds: usize) {
    println!("\n== calls: {SLICES} agents, a dashboard attached in a raw pty, {rounds} calls");
    let names: Vec<String> = (0..SLICES).map(|i| format!("c{i:02}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let repo = Repo::create(bin, &dir.join("repo"), &names, "exec sleep 100000", 1_000);
    let supervisor = Agents::start(bin, &repo);
    for name in &names {
        supervisor.request(Command::StartAgent { slice: slice(name) });
    }

    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 50,
            cols: 200,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("a pty");
    let mut command = CommandBuilder::new(bin);
    command.arg("-C");
    command.arg(&repo.root);
    command.cwd(&repo.root);
    command.env("TERM", "xterm-256color");
    command.env_remove("TMUX");
    let mut dashboard = pair.slave.spawn_command(command).expect("the dashboard");
    drop(pair.slave);
    let seen: Seen = Arc::default();
    let mut reader = pair.master.try_clone_reader().expect("the pty's reader");
    let sink = Arc::clone(&seen);
    std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            let at = Instant::now();
            let mut seen = sink.lock().expect("lock");
            seen.0.extend_from_slice(&buf[..n]);
            let end = seen.0.len();
            seen.1.push((end, at));
        }
    });
    let _keys = pair.master.take_writer().expect("the pty's writer");
    let find = |needle: &[u8], from: usize| -> Option<Instant> {
        let seen = seen.lock().expect("lock");
        let at = seen.0[from.min(seen.0.len())..]
            .windows(needle.len())
            .position(|w| w == needle)?
            + from
            + needle.len();
        seen.1.iter().find(|(end, _)| *end >= at).map(|(_, t)| *t)
    };
    wait_until(
        Duration::from_secs(30),
        || find(b"\x1b]2;sliceboard", 0).is_some(),
        "the dashboard drawn",
    );
    std::thread::sleep(Duration::from_secs(1));

    let signal = |name: &str, activity| {
        supervisor.request(Command::Signal {
            slice: slice(name),
            activity,
            origin: None,
        });
    };
    let load = Load::settle();
    let mut latencies = Vec::new();
    for round in 0..rounds {
        let name = names[round % SLICES];
        let from = seen.lock().expect("lock").0.len();
        let started = Instant::now();
        signal(name, Activity::Waiting);
        let needle = format!("\x1b]9;{name}: waits for you\x07");
        let mut arrived = None;
        wait_until(
            Duration::from_secs(10),
            || {
                arrived = find(needle.as_bytes(), from);
                arrived.is_some()
            },
            &format!("{name}'s call in the dashboard's bytes (round {round})"),
        );
        let arrived = arrived.expect("found");
        latencies.push(arrived.duration_since(started).as_secs_f64() * 1000.0);
        signal(name, Activity::Busy);
        // The same slice's next wait comes after the 5 s debounce.
        std::thread::sleep(Duration::from_millis(700));
    }
    println!(
        "  signal `waiting` to OSC 9 on the dashboard's terminal: {} (median {:.1} ms); {load}",
        summary(&latencies, "ms"),
        median(&latencies)
    );
    let _ = dashboard.kill();
}
