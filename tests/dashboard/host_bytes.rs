//! The bytes the dashboard writes to its host terminal, read raw from the
//! pty it runs in (no tmux between): the bell, OSC 9 and OSC 777 desktop
//! notifications, and the window title saved, kept and given back.

use crate::common;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use common::{BIN, TestRepo, WAIT, poll_until};
use portable_pty::{CommandBuilder, PtySize, native_pty_system};

const PLAN: &str = r#"base = "main"

[agent]
command = "exec sleep 600"

[[slice]]
name = "staging"
owns = ["models/staging/**"]
"#;

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// The dashboard in a pty of its own (120x30), no tmux around it: what it
/// writes to its host terminal, and the keys typed into it.
struct Host {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    bytes: Arc<Mutex<Vec<u8>>>,
    keys: Box<dyn Write + Send>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Host {
    fn start(repo: &TestRepo, env: &[(&str, &std::path::Path)]) -> Self {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 30,
                cols: 120,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut command = CommandBuilder::new(BIN);
        command.cwd(&repo.root);
        // The same environment as every other run of the binary, and no tmux
        // around it: what it writes goes out as it is.
        let std_command = repo.command(BIN, &repo.root);
        for (key, value) in std_command.get_envs() {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            }
        }
        command.env_remove("TMUX");
        command.env("TERM", "xterm-256color");
        for (key, value) in env {
            command.env(key, value);
        }
        let child = pair.slave.spawn_command(command).unwrap();
        drop(pair.slave);
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let mut reader = pair.master.try_clone_reader().unwrap();
        let sink = Arc::clone(&bytes);
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let keys = pair.master.take_writer().unwrap();
        Self {
            child,
            bytes,
            keys,
            _master: pair.master,
        }
    }

    fn seen(&self, needle: &[u8]) -> bool {
        find(&self.bytes.lock().unwrap(), needle).is_some()
    }

    fn press(&mut self, keys: &[u8]) {
        self.keys.write_all(keys).unwrap();
    }
}

#[test]
fn a_call_reaches_the_host_terminal_as_a_bell_and_osc_9_and_777_and_the_title_is_given_back() {
    let repo = TestRepo::with_worktrees(PLAN);
    let mut host = Host::start(&repo, &[]);
    let bytes = Arc::clone(&host.bytes);
    let seen = |needle: &[u8]| find(&bytes.lock().unwrap(), needle).is_some();

    // The dashboard saves the host's title before it sets one.
    poll_until("the first title set", WAIT, || {
        seen(b"\x1b]2;sliceboard\x07")
    });
    {
        let out = bytes.lock().unwrap();
        let push = find(&out, b"\x1b[22;0t").expect("the title saved");
        let first_title = find(&out, b"\x1b]2;").expect("a title set");
        assert!(push < first_title, "saved after it was changed");
    }
    host.press(b"s");
    poll_until("the agent running", WAIT, || {
        common::slice_status(&repo.status_json(), "staging")["agent"]["status"]["state"]
            == "running"
    });

    repo.sliceboard(&["signal", "waiting", "--slice", "staging"])
        .ok();
    poll_until("the call written", WAIT, || {
        seen(b"\x1b]777;notify;sliceboard;staging: waits for you\x07")
    });
    {
        let out = bytes.lock().unwrap();
        let osc9 = find(&out, b"\x1b]9;staging: waits for you\x07").expect("OSC 9");
        // The bell right before it is its own byte, not the end of an
        // earlier sequence (the last one before it ended before it).
        assert_eq!(out[osc9 - 1], 0x07, "a bell before the notification");
        if let Some(osc) = rfind(&out[..osc9], b"\x1b]") {
            assert!(
                find(&out[osc..osc9 - 1], b"\x07").is_some(),
                "the bell ends an escape sequence: {:?}",
                String::from_utf8_lossy(&out[osc..osc9])
            );
        }
    }
    poll_until("the title counts the waiting agent", WAIT, || {
        seen(b"\x1b]2;sliceboard: 1 waiting\x07")
    });

    // Leaving gives the host its title back, after the last one set.
    host.press(b"q");
    poll_until("the dashboard gone", WAIT, || {
        host.child.try_wait().ok().flatten().is_some()
    });
    // Its last bytes may still be on their way through the pty.
    poll_until("the title given back", WAIT, || seen(b"\x1b[23;0t"));
    let out = bytes.lock().unwrap();
    let pop = rfind(&out, b"\x1b[23;0t").expect("the title given back");
    let last_title = rfind(&out, b"\x1b]2;").unwrap();
    assert!(pop > last_title, "a title was set after it was given back");
    drop(out);
    repo.sliceboard(&["stop"]).ok();
}

#[test]
fn a_yank_in_copy_mode_reaches_the_host_as_osc_52_with_a_wrapped_line_joined() {
    use base64::Engine as _;
    // The agent prints a line longer than its pane is wide, then waits.
    let plan = PLAN.replace(
        "command = \"exec sleep 600\"",
        "command = \"printf 'start\\\\n'; seq -s, 1 60; printf 'end\\\\n'; exec sleep 600\"",
    );
    let long: String = (1..=60)
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let repo = TestRepo::with_worktrees(&plan);
    let state = repo.top.join("state");
    let mut host = Host::start(&repo, &[("XDG_STATE_HOME", &state)]);
    poll_until("the first title set", WAIT, || {
        host.seen(b"\x1b]2;sliceboard\x07")
    });
    host.press(b"s");
    poll_until("the agent printed", WAIT, || {
        common::slice_status(&repo.status_json(), "staging")["agent"]["status"]["state"]
            == "running"
            && host.seen(b"end")
    });
    // Copy mode starts on the agent's cursor, under `end`: two rows up is
    // the long line's last row; V takes the whole line, y copies it.
    host.press(b"v");
    poll_until("copy mode", WAIT, || host.seen(b"COPY staging"));
    host.press(b"kkVy");
    poll_until("the yank written", WAIT, || host.seen(b"\x1b]52;c;"));
    let out = host.bytes.lock().unwrap().clone();
    let at = find(&out, b"\x1b]52;c;").unwrap() + 7;
    let end = at + find(&out[at..], b"\x07").expect("OSC 52 ends");
    let text = base64::engine::general_purpose::STANDARD
        .decode(&out[at..end])
        .expect("base64");
    assert_eq!(String::from_utf8(text).unwrap(), long);
    let file = state.join("sliceboard").join("clipboard");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), long);
    host.press(b"q");
    poll_until("the dashboard gone", WAIT, || {
        host.child.try_wait().ok().flatten().is_some()
    });
    repo.sliceboard(&["stop"]).ok();
}
