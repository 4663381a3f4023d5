//! The supervisor as its own process (`sliceboard supervise`), over its
//! real socket, with real clients: agents' hooks (the binary), the command
//! line, dashboards that read and one that stalls, and peers that
//! misbehave (another protocol version, garbage, oversized or endless
//! frames, silence, another user). It also survives being killed.
//!
//! Every test owns its supervisor process ([`Supervise`]) and ends it when
//! it ends, passed or failed. Nothing here waits a fixed time: each wait
//! polls until a deadline, and a client that could hang (a read of the
//! supervisor's answer) runs on a thread the test stops waiting for.

use crate::common;

use common::supervised::*;
use common::{TestRepo, poll_until};
use sliceboard::domain::board::BoardUpdate;
use sliceboard::domain::pane::PaneWant;
use sliceboard::domain::wire::{ClientKind, ClientMsg, PROTOCOL_VERSION, ServerMsg};
use sliceboard::domain::{Activity, AgentStatus, Command, Event, Lifecycle};
use sliceboard::link::{self, Link, MAX_SERVER_FRAME};
use std::collections::BTreeSet;
use std::io::{ErrorKind, Read as _, Write};
use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

#[test]
fn an_agents_signal_hook_reaches_the_supervisor_and_every_dashboard() {
    let f = Fixture::new(
        &[(
            "staging",
            "echo started; \"$SB\" signal waiting && echo signalled; exec sleep 30",
        )],
        &[],
    );
    let mut dash = Dashboard::connect(&f.socket());
    dash.view(&["staging"]);
    dash.request(start_agent("staging"))
        .expect("the agent starts");
    dash.wait_event("staging waiting, from its hook", |e| {
        matches!(e, Event::ActivityChanged { slice, activity: Activity::Waiting, .. } if slice.as_str() == "staging")
    });
    dash.wait_pane("staging", "signalled");
    assert_eq!(dash.row("staging").activity, Some(Activity::Waiting));
}

#[test]
fn a_client_of_another_protocol_is_refused_with_both_versions() {
    let f = Fixture::new(&[], &[]);
    let mut stream = raw(&f.socket());
    send_hello(&mut stream, 999, ClientKind::Cli);
    let answer: Option<ServerMsg> = link::read_frame(&mut stream, MAX_SERVER_FRAME).unwrap();
    let Some(ServerMsg::Refused { message }) = answer else {
        panic!("expected a refusal, got {answer:?}");
    };
    assert!(
        message.contains(&format!("protocol {PROTOCOL_VERSION}"))
            && message.contains("protocol 999"),
        "the refusal names both versions: {message}"
    );
    assert!(
        read_until_closed(&mut stream, "the refused client").is_empty(),
        "nothing follows a refusal"
    );
    assert_serving(&f.socket());
}

#[test]
fn bad_frames_close_only_their_own_connection() {
    let f = Fixture::new(&[], &[]);
    let socket = f.socket();
    let mut dash = Dashboard::connect(&socket);

    let mut garbage = 12_u32.to_be_bytes().to_vec();
    garbage.extend_from_slice(b"{not json}!!");
    let oversized = 0xFFFF_FFF0_u32.to_be_bytes().to_vec();
    for (what, kind, bytes) in [
        ("garbage from the command line", ClientKind::Cli, &garbage),
        ("garbage from a dashboard", ClientKind::Dashboard, &garbage),
        (
            "an oversized length from the command line",
            ClientKind::Cli,
            &oversized,
        ),
        (
            "an oversized length from a dashboard",
            ClientKind::Dashboard,
            &oversized,
        ),
    ] {
        let mut stream = raw(&socket);
        hello(&mut stream, kind);
        stream.write_all(bytes).unwrap();
        read_until_closed(&mut stream, what);
    }

    // Half a frame, and the sender goes quiet: everyone else is served.
    let mut partial = raw(&socket);
    hello(&mut partial, ClientKind::Cli);
    let frame = link::encode(&ClientMsg::Request {
        id: 1,
        command: Command::Up { slices: Vec::new() },
    });
    partial.write_all(&frame[..frame.len() / 2]).unwrap();
    assert_eq!(cli(&socket, start_agent("staging")), Ok(String::new()));
    dash.wait_event(
        "staging running, with half a frame pending elsewhere",
        |e| status_changed(e, "staging", AgentStatus::Running),
    );
    partial.shutdown(std::net::Shutdown::Write).unwrap();
    read_until_closed(&mut partial, "the client that sent half a frame");

    // The dashboard that behaved is still attached and still told things.
    assert_eq!(cli(&socket, kill_agent("staging")), Ok(String::new()));
    dash.wait_event("staging killed, after every bad connection", |e| {
        status_changed(e, "staging", AgentStatus::Killed)
    });
}

#[test]
fn only_this_user_may_connect() {
    let f = Fixture::new(&[], &[]);
    let socket = f.socket();
    let meta = std::fs::metadata(&socket).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o600,
        "{} is private",
        socket.display()
    );

    // The peer check reads the connecting process's user.
    let listener = UnixListener::bind(f.repo.top.join("peer.sock")).unwrap();
    let client = UnixStream::connect(f.repo.top.join("peer.sock")).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    assert_eq!(link::peer_uid(&accepted).unwrap(), link::own_uid());
    assert_eq!(link::peer_uid(&client).unwrap(), link::own_uid());

    const OTHER: u32 = 65534;
    if link::own_uid() != 0 {
        eprintln!("note: not root, so no connection from another user was tried");
        return;
    }
    let stranger = match connect_as(OTHER, &f.repo.top.join("peer.sock")) {
        Ok(stream) => stream,
        Err(err) => {
            eprintln!("note: cannot act as uid {OTHER} here ({err}); skipped that part");
            return;
        }
    };
    let (accepted, _) = listener.accept().unwrap();
    assert_eq!(
        link::peer_uid(&accepted).unwrap(),
        OTHER,
        "the stand-in works"
    );
    drop(stranger);

    let mut stranger = connect_as(OTHER, &socket).expect("the socket file lets root's fs user in");
    stranger.set_read_timeout(Some(WAIT)).unwrap();
    // It may be closed before the hello is even written.
    let _ = link::write_frame(
        &mut stranger,
        &ClientMsg::Hello {
            protocol: PROTOCOL_VERSION,
            kind: ClientKind::Dashboard,
            version: env!("CARGO_PKG_VERSION").into(),
            heartbeat: false,
        },
    );
    let got = read_until_closed(&mut stranger, "a connection from another user");
    assert!(
        got.is_empty(),
        "another user got {} bytes (a welcome?)",
        got.len()
    );
    assert_serving(&socket);
}

#[test]
fn a_stalled_dashboard_holds_up_nobody_and_is_sent_the_board_again() {
    // Long, distinct lines on a big pane: every frame of it is large, so
    // the stalled client's socket fills within a few frames.
    let flood = "seq -f '%0390.0f' 1 12000; \
                 for i in $(seq 20); do \"$SB\" signal busy; \"$SB\" signal idle; done; \
                 \"$SB\" signal done; exec sleep 30";
    let f = Fixture::new(&[("staging", flood)], &[("SLICEBOARD_CLIENT_QUEUE", "4")]);
    let socket = f.socket();
    let staging = name("staging");

    let mut reader = Dashboard::connect(&socket);
    reader.patience = Duration::from_secs(90);
    let (stalled_in, mut stalled_out, stalled_welcome) = attach(&socket);
    link::write_frame(
        &mut stalled_out,
        &ClientMsg::View {
            panes: vec![PaneWant {
                slice: staging.clone(),
                scroll: 0,
            }],
        },
    )
    .unwrap();

    reader
        .request(Command::ResizeAgent {
            slice: staging.clone(),
            cols: 400,
            rows: 150,
        })
        .expect("the pane's size is kept for the agent's start");
    reader
        .request(start_agent("staging"))
        .expect("the agent starts");
    // The agent gets through its flood and every signal it sends is taken,
    // while the stalled client reads nothing.
    reader.wait_until("the agent signalled done after its flood", |d| {
        d.row("staging").activity == Some(Activity::Done)
    });

    // The stalled client reads at last: the board again, then updates.
    let mut stalled = Dashboard::reading(stalled_in, stalled_out, stalled_welcome);
    stalled.patience = Duration::from_secs(90);
    stalled.wait_for("the whole board again", |m| {
        matches!(m, ServerMsg::Resync { .. }).then_some(())
    });
    sliceboard(&f.repo, &["signal", "waiting", "--slice", "staging"]).ok();
    let waiting = |d: &Dashboard| d.row("staging").activity == Some(Activity::Waiting);
    stalled.wait_until("staging waiting, after the resync", waiting);
    reader.wait_until("staging waiting", waiting);
    assert_eq!(
        stalled.row("staging").events,
        reader.row("staging").events,
        "the resynced board and the updates after it are the reader's board"
    );
}

#[test]
fn idle_connections_block_neither_hooks_nor_dashboards() {
    let f = Fixture::new(&[], &[]);
    let socket = f.socket();
    assert_eq!(cli(&socket, start_agent("staging")), Ok(String::new()));
    let idle: Vec<UnixStream> = (0..100)
        .map(|_| UnixStream::connect(&socket).expect("the socket accepts"))
        .collect();

    sliceboard(&f.repo, &["signal", "waiting", "--slice", "staging"]).ok();
    let dash = Dashboard::connect(&socket);
    assert_eq!(dash.row("staging").activity, Some(Activity::Waiting));

    // All of that happened while every idle connection was still open.
    for mut conn in idle {
        conn.set_nonblocking(true).unwrap();
        let read = conn.read(&mut [0; 16]);
        assert!(
            matches!(&read, Err(err) if err.kind() == ErrorKind::WouldBlock),
            "an idle connection was still waiting for its hello: {read:?}"
        );
    }
}

#[test]
fn a_client_streaming_without_a_frame_boundary_is_cut_off() {
    let f = Fixture::new(&[], &[]);
    let socket = f.socket();
    assert_serving(&socket);
    let before = rss_kib(f.sup.pid());

    let mut stream = raw(&socket);
    hello(&mut stream, ClientKind::Cli);
    stream.write_all(&0xFFFF_FFF0_u32.to_be_bytes()).unwrap();
    let chunk = vec![b'x'; 1 << 20];
    let mut sent: u64 = 0;
    let cut = loop {
        if sent >= 1 << 30 {
            break None;
        }
        match stream.write(&chunk) {
            Ok(n) => sent += n as u64,
            Err(err) => break Some(err),
        }
    };
    let err = cut.unwrap_or_else(|| panic!("never cut off: the supervisor took {sent} bytes"));
    assert!(
        matches!(
            err.kind(),
            ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
        ),
        "cut off, not stalled: {err} after {sent} bytes"
    );

    let after = rss_kib(f.sup.pid());
    assert!(
        after <= before + 64 * 1024,
        "the supervisor grew from {before} KiB to {after} KiB"
    );
    assert_serving(&socket);
}

#[test]
fn a_killed_supervisor_leaves_state_that_the_next_one_picks_up() {
    let mut f = Fixture::new(&[("staging", "echo marker-$((6 * 7)); exec sleep 60")], &[]);
    let socket = f.socket();
    let mut dash = Dashboard::connect(&socket);
    dash.view(&["staging"]);
    dash.request(start_agent("staging"))
        .expect("the agent starts");
    dash.wait_until("the agent's pid", |d| d.row("staging").pid.is_some());
    let _agent = KillGroup(dash.row("staging").pid.unwrap());
    dash.wait_pane("staging", "marker-42");
    drop(dash);

    f.sup.kill();

    f.repo.state_json();
    let journal =
        std::fs::read_to_string(f.repo.state_dir().join("events.jsonl")).expect("the journal");
    for line in journal.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|err| panic!("a journal line is not JSON ({err}): {line}"));
    }
    assert!(socket.exists(), "the killed supervisor left its socket");

    f.sup = Supervise::start(&f.repo, &[]);
    let mut dash = Dashboard::connect(&socket);
    assert_eq!(
        dash.row("staging").status,
        AgentStatus::Exited { code: None },
        "the run nobody saw end is shown as ended"
    );
    dash.view(&["staging"]);
    dash.wait_pane("staging", "marker-42");
    dash.request(restart_agent("staging"))
        .expect("the agent restarts");
    dash.wait_event("staging running again", |e| {
        status_changed(e, "staging", AgentStatus::Running)
    });
}

#[test]
fn two_dashboards_see_the_same_agent_and_both_type_into_it() {
    let f = Fixture::new(&[], &[]);
    let socket = f.socket();
    let mut one = Dashboard::connect(&socket);
    let mut two = Dashboard::connect(&socket);
    one.view(&["staging"]);
    two.view(&["staging"]);

    one.request(start_agent("staging"))
        .expect("the agent starts");
    for dash in [&mut one, &mut two] {
        dash.wait_event("staging running", |e| {
            status_changed(e, "staging", AgentStatus::Running)
        });
    }
    one.request(Command::SendInput {
        slice: name("staging"),
        bytes: b"typed-in-one\n".to_vec(),
    })
    .expect("input from the first dashboard");
    two.request(Command::SendInput {
        slice: name("staging"),
        bytes: b"typed-in-two\n".to_vec(),
    })
    .expect("input from the second dashboard");
    for dash in [&mut one, &mut two] {
        dash.wait_pane("staging", "typed-in-one");
        dash.wait_pane("staging", "typed-in-two");
    }

    two.request(kill_agent("staging"))
        .expect("the agent is killed");
    for dash in [&mut one, &mut two] {
        dash.wait_event("staging killed", |e| {
            status_changed(e, "staging", AgentStatus::Killed)
        });
    }
    assert_eq!(one.board, two.board, "both dashboards hold the same board");
}

#[test]
fn up_and_down_go_through_the_supervisor_a_dashboard_attaches_to() {
    let repo = TestRepo::with_plan_text(&plan(&[]));
    let _sup = Supervise::start(&repo, &[]);
    let mut dash = Dashboard::connect(&repo.socket());

    let up = sliceboard(&repo, &["up"]);
    assert!(!up.stderr.contains("lock"), "{up:#?}");
    up.ok();
    let (mut created, mut ready) = (BTreeSet::new(), BTreeSet::new());
    dash.wait_for("every slice's worktree created, and the slice ready", |m| {
        if let ServerMsg::Update {
            update: BoardUpdate::Event { event, .. },
        } = m
        {
            match event {
                Event::WorktreeCreated { slice, .. } => created.insert(slice.to_string()),
                Event::LifecycleChanged {
                    slice,
                    to: Lifecycle::Ready,
                    ..
                } => ready.insert(slice.to_string()),
                _ => false,
            };
        }
        (created.len() == 3 && ready.len() == 3).then_some(())
    });
    for slice in ["staging", "marts", "seeds"] {
        assert!(repo.worktree(slice).is_dir());
        assert_eq!(dash.row(slice).lifecycle, Lifecycle::Ready);
    }

    let down = sliceboard(&repo, &["down", "seeds"]);
    assert!(!down.stderr.contains("lock"), "{down:#?}");
    down.ok();
    dash.wait_event(
        "seeds' worktree, removed",
        |e| matches!(e, Event::WorktreeRemoved { slice, .. } if slice.as_str() == "seeds"),
    );
    assert!(!repo.worktree("seeds").exists());
}

#[test]
fn an_idle_supervisor_ends_by_itself_once_no_agent_runs_and_no_dashboard_is_attached() {
    let mut f = Fixture::new(
        &[("staging", "echo short-lived")],
        &[("SLICEBOARD_IDLE_EXIT", "1")],
    );
    // One thread and one descriptor: dropped, the connection is closed.
    let mut dash = Link::connect(&f.socket(), ClientKind::Dashboard).unwrap();
    dash.request(start_agent("staging"))
        .unwrap()
        .expect("the agent starts");
    let journal = f.repo.state_dir().join("events.jsonl");
    poll_until("the agent ended", WAIT, || {
        std::fs::read_to_string(&journal)
            .unwrap_or_default()
            .contains(r#""status":{"state":"exited","code":0}"#)
    });
    // Attached, it stays, however long nothing else happens. Watched for a
    // fixed time, well past its idle exit of 1 s: what is tested is that
    // nothing happens.
    let attached_for = std::time::Instant::now() + Duration::from_millis(2500);
    while std::time::Instant::now() < attached_for {
        assert!(
            f.sup.child.try_wait().unwrap().is_none(),
            "the supervisor left while a dashboard was attached"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(dash);
    common::wait_exit(&mut f.sup.child, "an idle supervisor", WAIT);
    assert!(!f.socket().exists(), "it took its socket with it");
}

#[test]
fn a_resized_pane_is_sent_again_reflowed_without_waiting_for_output() {
    let f = Fixture::new(
        &[(
            "staging",
            "printf 'abcdefghij%.0s' 1 2 3 4 5 6; echo; exec sleep 30",
        )],
        &[],
    );
    let mut dash = Dashboard::connect(&f.socket());
    dash.view(&["staging"]);
    dash.request(start_agent("staging"))
        .expect("the agent starts");
    let line = "abcdefghij".repeat(6);
    dash.wait_pane("staging", &line);
    dash.request(Command::ResizeAgent {
        slice: name("staging"),
        cols: 20,
        rows: 10,
    })
    .expect("the pane resizes");
    let staging = name("staging");
    // alacritty keeps the cursor's line where it was: the wrapped start
    // of the line goes to history, its last 20 columns stay on screen.
    dash.wait_until("the pane at 20 columns, reflowed", |d| {
        d.panes.get(&staging).is_some_and(|p| {
            p.cols == 20 && p.history == 2 && p.row_text(0) == "abcdefghijabcdefghij"
        })
    });
}

#[test]
fn clients_starting_a_supervisor_at_once_all_reach_the_one_that_won() {
    let repo = TestRepo::with_worktrees(&plan(&[]));
    // `proxy` starts the supervisor when none runs, as a dashboard does;
    // with stdin closed it ends as soon as it has connected.
    let proxies: Vec<_> = (0..8)
        .map(|_| {
            repo.command(common::BIN, &repo.root)
                .arg("proxy")
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for proxy in proxies {
        let out = proxy.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a client lost the race: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The losers of the race exit once they find the lock taken; one
    // supervisor remains.
    let pattern = format!("{} supervise", repo.root.display());
    let count = || {
        let found = std::process::Command::new("pgrep")
            .args(["-f", &pattern])
            .output()
            .unwrap();
        String::from_utf8_lossy(&found.stdout).lines().count()
    };
    common::poll_ok("one supervisor for the repository", WAIT, || {
        match count() {
            1 => Ok(()),
            n => Err(format!("{n} supervisors run")),
        }
    });
}

/// A stand-in for a supervisor of another sliceboard version: it holds the
/// state lock as a supervisor does, and refuses every client.
const OTHER_VERSION: &str = r#"
import fcntl, json, os, signal, socket, struct, sys
lock_path, sock_path = sys.argv[1], sys.argv[2]
lock = open(lock_path, "a+")
fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
lock.truncate(0)
pid = int(sys.argv[3]) if len(sys.argv) > 3 else os.getpid()
started = int(open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[19])
if len(sys.argv) > 4:
    started += 1
lock.write(json.dumps({"pid": pid, "command": "sliceboard supervisor", "since": "2026-01-01T00:00:00Z", "started": started}))
lock.flush()
server = socket.socket(socket.AF_UNIX)
server.bind(sock_path)
server.listen(8)
def end(*_):
    os.unlink(sock_path)
    sys.exit(0)
signal.signal(signal.SIGTERM, end)
print("ready", flush=True)
while True:
    client, _ = server.accept()
    # Refuses without reading the hello, as a peer that closes early does.
    body = json.dumps({"msg": "refused", "message": "this supervisor speaks protocol 0"}).encode()
    client.sendall(struct.pack(">I", len(body)) + body)
    client.close()
"#;

/// A stand-in supervisor of another protocol version holding the lock
/// (`extra`: the pid and start time it records instead of its own), once
/// it says it is ready.
fn other_version(repo: &TestRepo, extra: &[&str]) -> Reaped {
    let child = std::process::Command::new("python3")
        .args(["-c", OTHER_VERSION])
        .arg(repo.state_dir().join("lock"))
        .arg(repo.socket())
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3 runs");
    let mut other = Reaped(child);
    let mut ready = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(other.0.stdout.as_mut().unwrap()),
        &mut ready,
    )
    .unwrap();
    assert_eq!(ready.trim(), "ready");
    other
}

#[test]
fn stop_ends_a_supervisor_of_another_version_through_the_lock() {
    let repo = TestRepo::with_plan_text(&plan(&[]));
    std::fs::create_dir_all(repo.state_dir()).unwrap();
    let mut other = other_version(&repo, &[]);
    let stopped = repo.sliceboard(&["stop"]).ok();
    assert!(
        stopped.contains("of another sliceboard version"),
        "{stopped}"
    );
    let status = other.0.wait().unwrap();
    assert!(status.success(), "it ended on SIGTERM: {status}");
}

#[test]
fn stop_signals_no_process_that_only_got_the_supervisors_pid() {
    let repo = TestRepo::with_plan_text(&plan(&[]));
    std::fs::create_dir_all(repo.state_dir()).unwrap();
    // The lock names this process, with another start time: a pid that
    // was reused after the supervisor that took the lock ended.
    let bystander = Reaped(
        std::process::Command::new("sleep")
            .arg("300")
            .spawn()
            .unwrap(),
    );
    let bystander_pid = bystander.0.id().to_string();
    let _other = other_version(&repo, &[&bystander_pid, "another-start-time"]);
    let why = repo.sliceboard(&["stop"]).fails();
    assert!(
        why.contains("not the process that took it") && why.contains("nothing was signalled"),
        "{why}"
    );
    let mut bystander = bystander;
    assert!(
        bystander.0.try_wait().unwrap().is_none(),
        "the process that got the pid was signalled"
    );
}

/// A child process killed when the test ends, however it ends.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The oldest lines of a long scrollback are kept compact, out of the
/// emulator's grid (which keeps 1,000 rows): a dashboard scrolled to the
/// top, or to a search hit, reads them as if nothing had moved, also
/// after a resize rewrapped them.
#[test]
fn a_long_scrollback_reads_as_one_from_its_first_line_also_after_a_resize() {
    let f = Fixture::new(
        &[(
            "staging",
            "seq -f 'line %g' 0 2999 | sed 's/$/ \\x1b[31mred\\x1b[0m/'; exec sleep 30",
        )],
        &[],
    );
    let mut dash = Dashboard::connect(&f.socket());
    dash.view(&["staging"]);
    dash.request(start_agent("staging"))
        .expect("the agent starts");
    dash.wait_pane("staging", "line 2999 red");
    let staging = name("staging");
    let look = |dash: &mut Dashboard, scroll: usize| {
        dash.send(&ClientMsg::View {
            panes: vec![PaneWant {
                slice: staging.clone(),
                scroll,
            }],
        });
    };

    // The top of the history: the very first line, styles and all.
    look(&mut dash, usize::MAX / 2);
    dash.wait_until("the pane scrolled to its first line", |d| {
        d.panes.get(&staging).is_some_and(|p| {
            p.scroll > 2_000 && p.scroll == p.history && p.row_text(0) == "line 0 red"
        })
    });
    let pane = &dash.panes[&staging];
    let red = pane.lines[0].iter().find(|run| run.text == "red").cloned();
    assert_eq!(
        red.map(|run| run.style.fg),
        Some(sliceboard::domain::pane::PaneColor::indexed(1)),
        "{:?}",
        pane.lines[0]
    );

    // A search finds an old line, and its hit brings it to the top.
    dash.send(&ClientMsg::Search {
        id: 7,
        slice: staging.clone(),
        query: "line 1234 ".into(),
    });
    let hits = dash.wait_for("the search's hits", |m| match m {
        ServerMsg::Found { id: 7, hits, .. } => Some(hits.clone()),
        _ => None,
    });
    assert_eq!(hits.len(), 1, "{hits:?}");
    look(&mut dash, hits[0]);
    dash.wait_until("the hit at the top of the pane", |d| {
        d.panes
            .get(&staging)
            .is_some_and(|p| p.scroll == hits[0] && p.row_text(0) == "line 1234 red")
    });

    // Narrower: every old line wraps in two, still all there in order.
    dash.request(Command::ResizeAgent {
        slice: staging.clone(),
        cols: 8,
        rows: 10,
    })
    .expect("the pane resizes");
    look(&mut dash, usize::MAX / 2);
    dash.wait_until("the narrow pane's first rows", |d| {
        d.panes.get(&staging).is_some_and(|p| {
            p.cols == 8
                && p.history > 5_000
                && (0..4).map(|r| p.row_text(r)).collect::<Vec<_>>()
                    == ["line 0 r", "ed", "line 1 r", "ed"]
        })
    });
}

#[test]
fn a_quiet_dashboard_hears_heartbeats_and_a_goodbye_that_names_who_stopped_it() {
    let fx = Fixture::new(&[], &[]);
    // A dashboard that asks for heartbeats (one over ssh): nothing happens
    // on the board, yet the link is heard from.
    let socket = fx.socket();
    let (reader, writer, welcome) = within("a dashboard attaching", move || {
        sliceboard::link::Link::connect_with(&socket, ClientKind::Dashboard, true)
            .expect("a dashboard attaches")
            .split()
    });
    let mut dashboard = Dashboard::reading(reader, writer, welcome);
    for _ in 0..2 {
        dashboard.wait_for("a heartbeat", |m| {
            matches!(m, ServerMsg::Heartbeat).then_some(())
        });
    }
    // One that does not ask (over the local socket) is sent nothing, for
    // longer than two heartbeats would take.
    let mut quiet = Dashboard::connect(&fx.socket());
    let heard = quiet.heard_within(Duration::from_secs(5));
    assert!(
        heard.is_none(),
        "a local dashboard heard {:?} with nothing happening",
        heard.as_ref().map(summary)
    );
    let stopped = sliceboard(&fx.repo, &["stop"]).ok();
    assert!(stopped.contains("stopped 0 agents"), "{stopped}");
    let reason = dashboard.wait_for("the goodbye", |m| match m {
        ServerMsg::Goodbye { reason } => Some(reason.clone()),
        _ => None,
    });
    assert_eq!(reason, "stopped by `sliceboard stop`");
}
