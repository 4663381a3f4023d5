//! The real binary in a real terminal: sliceboard runs inside tmux against
//! a real repository, keys are sent with `send-keys`, and what a person
//! would see is read back with `capture-pane`.

use crate::common;

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::procs::{alive, wait_foreground};
use common::{BIN, TestRepo, WAIT, poll_ok, poll_some, poll_until, poll_within};
use sliceboard::domain::AgentStatus;
use sliceboard::domain::wire::ClientKind;
use sliceboard::link::Link;

const PLAN: &str = r#"base = "main"

[agent]
# `env`, because a non-interactive bash running the command unsets PS1.
command = "env PS1='agent$ ' bash --norc --noprofile -i"

[[slice]]
name = "staging"
owns = ["models/staging/**"]
logs = ["logs/*.log"]

[[slice]]
name = "marts"
owns = ["models/marts/**"]
after = ["staging"]
"#;

/// A tmux server of our own, killed when the test ends.
struct Tmux {
    socket: String,
    repo: TestRepo,
}

impl Tmux {
    fn start(repo: TestRepo, width: u16, height: u16) -> Self {
        Self::run(repo, width, height, BIN)
    }

    /// Runs `command` (a shell command line) in the pane.
    fn run(repo: TestRepo, width: u16, height: u16, command: &str) -> Self {
        // One server per test, whatever else runs in this process.
        static SERVERS: AtomicUsize = AtomicUsize::new(0);
        let socket = format!(
            "sb-e2e-{}-{}",
            std::process::id(),
            SERVERS.fetch_add(1, Ordering::Relaxed)
        );
        let tmux = Self { socket, repo };
        let status = tmux
            .command()
            .args([
                "new-session",
                "-d",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
            ])
            .arg(format!("{command}; echo DASHBOARD-EXITED-$?; sleep 30"))
            .status()
            .expect("tmux runs (install it: apt-get install tmux)");
        assert!(status.success());
        tmux
    }

    /// A dashboard on a repository of `PLAN` whose first slice's agent (a
    /// shell) was started, and typing into it.
    fn typing_into_an_agent(width: u16, height: u16) -> Self {
        let tmux = Self::start(TestRepo::with_worktrees(PLAN), width, height);
        tmux.shows("2 slices");
        tmux.keys(&["s"]);
        tmux.shows("agent$");
        // Enter types into an agent the board knows runs.
        tmux.shows("1 running");
        tmux.keys(&["Enter"]);
        tmux
    }

    /// Runs `command` again in window 0, replacing what ran there.
    fn respawn(&self, command: &str) {
        let status = self
            .command()
            .args(["respawn-pane", "-k", "-t", "0"])
            .arg(format!("{command}; echo DASHBOARD-EXITED-$?; sleep 30"))
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Opens window 1 running `command` (the same size as window 0).
    fn window(&self, command: &str) {
        let status = self
            .command()
            .args(["new-window", "-d", "-t", "1"])
            .arg(format!("{command}; echo DASHBOARD-EXITED-$?; sleep 30"))
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits until window `target` shows `needle`.
    fn shows_in(&self, target: &str, needle: &str) -> String {
        self.until_in(target, Duration::from_secs(15), needle, |s| {
            s.contains(needle)
        })
    }

    fn command(&self) -> Command {
        let mut command = self.repo.command("tmux", &self.repo.root);
        command.args(["-L", &self.socket, "-f", "/dev/null"]);
        command.env("TERM", "xterm-256color").env_remove("TMUX");
        command
    }

    fn keys(&self, keys: &[&str]) {
        let status = self
            .command()
            .args(["send-keys", "-t", "0"])
            .args(keys)
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn text(&self, text: &str) {
        let status = self
            .command()
            .args(["send-keys", "-t", "0", "-l", text])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn screen(&self) -> String {
        self.screen_of("0")
    }

    fn screen_of(&self, target: &str) -> String {
        let out = self
            .command()
            .args(["capture-pane", "-p", "-t", target])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen satisfies `want`.
    fn until(&self, what: &str, want: impl Fn(&str) -> bool) -> String {
        self.until_within(Duration::from_secs(15), what, want)
    }

    fn until_within(&self, limit: Duration, what: &str, want: impl Fn(&str) -> bool) -> String {
        self.until_in("0", limit, what, want)
    }

    fn until_in(
        &self,
        target: &str,
        limit: Duration,
        what: &str,
        want: impl Fn(&str) -> bool,
    ) -> String {
        poll_ok(format!("window {target} showing {what}"), limit, || {
            let screen = self.screen_of(target);
            if want(&screen) {
                Ok(screen)
            } else {
                Err(screen)
            }
        })
    }

    fn shows(&self, needle: &str) -> String {
        self.until(needle, |s| s.contains(needle))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").status();
        // tmux leaves its socket file behind.
        let dir = std::env::var_os("TMUX_TMPDIR").unwrap_or_else(|| "/tmp".into());
        // SAFETY: getuid has no preconditions and cannot fail.
        let uid = unsafe { libc::getuid() };
        let _ = std::fs::remove_file(
            std::path::Path::new(&dir)
                .join(format!("tmux-{uid}"))
                .join(&self.socket),
        );
    }
}

#[test]
fn an_operator_starts_types_into_pauses_and_quits() {
    let repo = TestRepo::with_worktrees(PLAN);
    let tmux = Tmux::start(repo, 120, 30);

    let board = tmux.shows("2 slices");
    assert!(
        board.contains("staging") && board.contains("marts"),
        "{board}"
    );
    assert!(
        board.contains("Terminal") && board.contains("Diff") && board.contains("Events"),
        "{board}"
    );

    // Start the selected agent (the plan's first slice in merge order).
    tmux.keys(&["s"]);
    tmux.shows("agent$");
    tmux.shows("1 running");
    // Its state is said once, as the agent's: no longer "ready".
    let screen = tmux.screen();
    assert!(
        !screen.contains("staging ready") && screen.contains("staging "),
        "the slice shows its agent's state:\n{screen}"
    );

    // Type into it; what it prints comes back through our emulator.
    tmux.keys(&["Enter"]);
    tmux.shows("TYPING into");
    tmux.text("echo typed-$((6*7)) $SLICEBOARD_SLICE");
    tmux.keys(&["Enter"]);
    tmux.shows("typed-42 ");
    // Ctrl-C reaches the agent's foreground job, not the dashboard.
    tmux.text("sleep 100");
    tmux.keys(&["Enter"]);
    let agent = agent_pid(&tmux.repo, "staging").expect("the agent runs");
    wait_foreground(agent, "sleep", Duration::from_secs(15));
    tmux.keys(&["C-c"]);
    tmux.text("echo after-interrupt");
    tmux.keys(&["Enter"]);
    tmux.until("the echo's output", |s| {
        s.lines()
            .any(|l| l.contains("after-interrupt") && !l.contains("echo"))
    });

    // The agent writes to a log file the plan asks to follow.
    tmux.text("mkdir -p logs; echo hello-from-a-log >> logs/agent.log");
    tmux.keys(&["Enter"]);

    // The reserved key leaves the agent; keys act on the board again.
    tmux.keys(&["C-]"]);
    tmux.until("the board's key hints", |s| {
        !s.contains("TYPING into") && s.contains("? help")
    });
    // The Logs tab follows the slice's log files.
    tmux.keys(&["Tab", "Tab", "Tab"]);
    tmux.shows("logs/agent.log: hello-from-a-log");
    tmux.keys(&["Tab", "Tab"]);
    tmux.shows("agent$");

    // Search the agent's scrollback.
    tmux.keys(&["/"]);
    tmux.text("typed-42");
    tmux.keys(&["Enter"]);
    tmux.shows("\"typed-42\": match 1 of 1");
    tmux.keys(&["p"]);
    tmux.shows("paused");
    // A paused agent says so, and how to resume it, to Enter and to s.
    tmux.keys(&["Enter"]);
    tmux.shows("staging's agent is paused: press p to resume it");
    tmux.keys(&["s"]);
    tmux.shows("its agent is paused, not ended: press p");
    tmux.keys(&["p"]);
    tmux.until("resumed", |s| !s.contains("paused"));

    // Help comes from the keymap (taller than 30 rows it scrolls with
    // j/k); any other key closes it.
    tmux.keys(&["?"]);
    // Waited for whole: a capture can fall between the rows of one frame.
    let help = tmux.until("the help drawn", |s| {
        s.contains("key closes)") && s.contains("pause / resume the agent")
    });
    // Its last line, the leave key, is a scroll away.
    if !help.contains("ctrl-]") {
        tmux.keys(&["j"; 20]);
        tmux.shows("ctrl-]");
    }
    tmux.keys(&["Escape"]);
    tmux.until("help closed", |s| !s.contains("key closes)"));

    // The grid shows every terminal with its name and state in the border.
    tmux.keys(&["g"]);
    tmux.until("the grid", |s| {
        s.contains("staging") && s.contains("marts") && !s.contains("Diff")
    });
    tmux.keys(&["g"]);

    // Stopping everything asks first and says what happens; q only
    // detaches, at once, and the agent goes on.
    tmux.keys(&["Q"]);
    // Waited for whole, as the help above.
    tmux.until("the question and its answers", |s| {
        s.contains("Stop the supervisor") && s.contains("y: stop all")
    });
    tmux.keys(&["n"]);
    tmux.shows("cancelled");
    tmux.keys(&["q"]);
    tmux.shows("DASHBOARD-EXITED-0");
    let pid = agent_pid(&tmux.repo, "staging").expect("the agent still runs after q");
    assert!(alive(pid), "agent {pid} ended with the dashboard");
}

/// The pid of a slice's running agent, as its supervisor reports it.
fn agent_pid(repo: &TestRepo, slice: &str) -> Option<i32> {
    let link = Link::connect(&repo.socket(), ClientKind::Dashboard).ok()?;
    let board = link.welcome.board?;
    let row = board
        .slices
        .into_iter()
        .find(|r| r.name.as_str() == slice)?;
    (row.status == AgentStatus::Running)
        .then_some(row.pid)
        .flatten()
}

/// The pid of the dashboard running in tmux window `target` (the child of
/// the pane's shell).
fn dashboard_pid(tmux: &Tmux, target: &str) -> i32 {
    let out = tmux
        .command()
        .args(["display-message", "-p", "-t", target, "#{pane_pid}"])
        .output()
        .unwrap();
    let shell = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let children = Command::new("pgrep").args(["-P", &shell]).output().unwrap();
    String::from_utf8_lossy(&children.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .find(|pid: &i32| {
            std::fs::read_link(format!("/proc/{pid}/exe"))
                .is_ok_and(|exe| exe.ends_with("sliceboard"))
        })
        .expect("the dashboard runs in the pane")
}

#[test]
fn agents_outlive_the_dashboard_and_every_attach_shows_them() {
    let repo = TestRepo::with_worktrees(PLAN);
    let tmux = Tmux::start(repo, 124, 30);
    tmux.shows("2 slices");
    tmux.keys(&["s"]);
    tmux.shows("agent$");
    // Enter types into an agent the board knows runs: its pane's first
    // frame can come before that news, and keys typed then are the board's.
    tmux.shows("1 running");
    tmux.keys(&["Enter"]);
    tmux.text("printf '\\033[32mgreen-%s\\033[0m\\n' $((6*7))");
    tmux.keys(&["Enter", "C-]"]);
    tmux.shows("green-42");
    let pid = agent_pid(&tmux.repo, "staging").expect("the agent runs");

    // q detaches; attaching again shows the same agent and its output.
    tmux.keys(&["q"]);
    tmux.shows("DASHBOARD-EXITED-0");
    assert!(alive(pid));
    tmux.respawn(BIN);
    tmux.shows("green-42");
    tmux.shows("1 running");
    assert_eq!(agent_pid(&tmux.repo, "staging"), Some(pid));

    // SIGKILL of the dashboard: the agent goes on; a new one shows it.
    let dashboard = dashboard_pid(&tmux, "0");
    // SAFETY: plain kill(2) of a child process we found by its parent.
    unsafe { libc::kill(dashboard, libc::SIGKILL) };
    tmux.shows("DASHBOARD-EXITED-137");
    assert!(alive(pid));
    tmux.respawn(BIN);
    tmux.shows("green-42");

    // Two dashboards at once: keys typed in one reach the agent, and both
    // show its answer.
    tmux.window(BIN);
    tmux.shows_in(":1", "green-42");
    tmux.keys(&["Enter"]);
    tmux.text("echo from-the-first-$((2*3))");
    tmux.keys(&["Enter", "C-]"]);
    tmux.shows("from-the-first-6");
    tmux.shows_in(":1", "from-the-first-6");

    // SIGHUP (the terminal closed): the agent goes on; a new one shows it.
    let dashboard = dashboard_pid(&tmux, "0");
    // SAFETY: as above.
    unsafe { libc::kill(dashboard, libc::SIGHUP) };
    tmux.shows("DASHBOARD-EXITED-");
    assert!(alive(pid));
    tmux.respawn(BIN);
    tmux.shows("from-the-first-6");
    assert_eq!(agent_pid(&tmux.repo, "staging"), Some(pid));

    // `sliceboard stop` ends the agent and the supervisor; the dashboards
    // say who stopped it, and end.
    let stopped = tmux.repo.sliceboard(&["stop"]).ok();
    assert!(stopped.contains("stopped 1 agent"), "{stopped}");
    let screen = tmux.shows("DASHBOARD-EXITED-0");
    assert!(
        screen.contains("was stopped by `sliceboard stop`") && !screen.contains("is gone"),
        "{screen}"
    );
    tmux.shows_in(":1", "was stopped by `sliceboard stop`");
    poll_until(
        format!("agent {pid} ended by stop"),
        Duration::from_secs(10),
        || !alive(pid),
    );
}

#[test]
fn it_works_at_80_by_24_and_never_passes_agent_escapes_through() {
    let plan = PLAN.replace(
        "env PS1='agent$ ' bash --norc --noprofile -i",
        "printf '\\\\033]0;pwned-title\\\\007\\\\033]52;c;aGk=\\\\007visible-text\\\\n\\\\033[?2026hsynced-text'; sleep 30",
    );
    let repo = TestRepo::with_worktrees(&plan);
    let tmux = Tmux::start(repo, 80, 24);
    tmux.shows("2 slices");
    // tmux ignores an application's OSC 52 unless told otherwise: make the
    // host clipboard writable, and show that a raw OSC 52 does reach it, so
    // the check below can fail.
    let status = tmux
        .command()
        .args(["set-option", "-s", "set-clipboard", "on"])
        .status()
        .unwrap();
    assert!(status.success());
    tmux.window("printf '\\033]52;c;Y29udHJvbA==\\007'; echo control-printed");
    tmux.shows_in("1", "control-printed");
    let buffers = tmux.command().args(["list-buffers"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&buffers.stdout).contains("control"),
        "a raw OSC 52 reaches this tmux's clipboard: {:?}",
        String::from_utf8_lossy(&buffers.stdout)
    );
    let status = tmux.command().args(["delete-buffer"]).status().unwrap();
    assert!(status.success());
    tmux.keys(&["s"]);
    tmux.shows("visible-text");
    // A synchronized update the agent never ends is shown when it times out.
    tmux.shows("synced-text");
    let title = tmux
        .command()
        .args(["display-message", "-p", "-t", "0", "#{pane_title}"])
        .output()
        .unwrap();
    let title = String::from_utf8_lossy(&title.stdout);
    assert!(
        !title.contains("pwned"),
        "the agent set the host's title: {title}"
    );
    let buffers = tmux.command().args(["list-buffers"]).output().unwrap();
    assert!(
        buffers.stdout.is_empty(),
        "the agent wrote the host's clipboard"
    );
}

#[test]
fn the_demo_runs_a_scripted_agent_that_asks_and_commits() {
    let env = TestRepo::new();
    let dir = env.top.join("demo");
    let stop = env.command(BIN, &env.top);
    let command = format!("{BIN} demo --dir {} --pace 0.05", dir.display());
    let tmux = Tmux::run(env, 160, 45, &command);
    // Declared after the tmux (which owns the folder): dropped before it,
    // while the repository is still there to stop.
    let _stop = StopOnDrop(stop, dir.join("shop"));
    let board = tmux.shows("4 slices");
    for slice in [
        "staging-core",
        "staging-catalog",
        "intermediate",
        "marts-finance",
    ] {
        assert!(board.contains(slice), "{board}");
    }
    // The walkthrough shows at the first start, below the panes, the step
    // to do next marked; G hides it.
    let guide = tmux.shows("The demo, step by step");
    assert!(
        guide.contains("0 of 6 done · G hides") && guide.contains("→ 1. Start the agents"),
        "{guide}"
    );
    tmux.keys(&["G"]);
    tmux.until("the walkthrough hidden", |s| !s.contains("0 of 6 done"));
    // The first slice's agent asks the operator a question and waits.
    tmux.keys(&["s"]);
    tmux.shows("[y/n]");
    tmux.shows("waiting for you");
    // The board peeks at what it asks, without the Terminal tab.
    tmux.until("the question on the board", |s| {
        s.lines()
            .any(|l| l.contains("asks: ") && l.contains("GETDATE()"))
    });
    tmux.keys(&["Enter"]);
    tmux.text("y");
    tmux.keys(&["Enter", "C-]"]);
    tmux.until_within(Duration::from_secs(90), "the agent finishing", |s| {
        s.contains("ready for review")
    });
    let log = std::process::Command::new("git")
        .args(["log", "--oneline", "-1", "slice/staging-core"])
        .current_dir(dir.join("shop"))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&log.stdout);
    assert!(
        log.contains("Migrate staging-core models to DuckDB SQL"),
        "{log}"
    );
    let migrated = std::fs::read_to_string(
        dir.join("shop.slices/staging-core/models/staging/core/stg_orders.sql"),
    )
    .unwrap();
    assert!(
        migrated.contains("coalesce(") && !migrated.contains("nvl("),
        "{migrated}"
    );
    // The other three agents started: the walkthrough, shown again, ticks
    // its first step and points at the next.
    tmux.keys(&["j", "s", "j", "s", "j", "s", "G"]);
    tmux.until("the first step ticked", |s| {
        s.contains("1 of 6 done") && s.contains("✓ 1. Start the agents") && s.contains("→ 2.")
    });
}

#[test]
fn a_write_in_a_worktree_shows_on_the_board_and_in_the_diff_tab() {
    let repo = TestRepo::with_worktrees(PLAN);
    let staging = repo.worktree("staging");
    let marts = repo.worktree("marts");
    let tmux = Tmux::start(repo, 140, 36);
    tmux.until("both slices without changes", |s| {
        s.matches("no changes").count() == 2
    });

    // An agent (here, the test) edits its own model: the board follows.
    common::write_file(
        &staging.join("models/staging/stg_orders.sql"),
        "select id, user_id\nfrom {{ ref('orders') }}\n",
    );
    tmux.shows("1 file +2 -1");

    // It strays into marts' folder, which marts also changes.
    common::write_file(&staging.join("models/marts/fct_orders.sql"), "select 1\n");
    common::write_file(&marts.join("models/marts/fct_orders.sql"), "select 2\n");
    tmux.shows("!1 outside !1 shared");
    tmux.shows("!1 shared");

    // The Diff tab stays on the file first changed, whose hunk it shows;
    // the stray file sorted before it carries its flags.
    tmux.keys(&["Tab"]);
    tmux.shows("+from {{ ref('orders') }}");
    tmux.keys(&["["]);
    let tab = tmux.shows("also changed by marts");
    assert!(
        tab.contains("M  models/marts/fct_orders.sql +1 -1")
            && tab.contains("outside the slice; owned by marts")
            && tab.contains("+select 1"),
        "{tab}"
    );

    // Reverting the stray edit clears the flags on both slices.
    std::fs::write(
        staging.join("models/marts/fct_orders.sql"),
        "select * from {{ ref('stg_orders') }}\n",
    )
    .unwrap();
    tmux.until("the flags cleared", |s| {
        !s.contains("!1") && !s.contains("also changed")
    });
}

/// Stops the supervisor of a repository the test did not make itself.
struct StopOnDrop(Command, std::path::PathBuf);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = self
            .0
            .arg("-C")
            .arg(&self.1)
            .arg("stop")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

#[test]
fn an_agent_starts_at_the_size_of_the_pane_it_is_drawn_in() {
    let plan = PLAN.replace(
        "env PS1='agent$ ' bash --norc --noprofile -i",
        "echo size=$(stty size); exec sleep 30",
    );
    let repo = TestRepo::with_worktrees(&plan);
    let tmux = Tmux::start(repo, 100, 30);
    tmux.shows("2 slices");
    tmux.keys(&["s"]);
    let screen = tmux.shows("size=");
    let size: Vec<u16> = screen
        .lines()
        .find_map(|l| l.split("size=").nth(1))
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .take(2)
        .collect();
    // The pane: the 30-row terminal less the title, tab and status lines
    // and the pane's borders; beside the board, narrower than 100.
    assert_eq!(size.first(), Some(&25), "{screen}");
    assert!(
        size.get(1).is_some_and(|cols| *cols < 100 && *cols > 40),
        "{screen}"
    );
}

#[test]
fn a_paste_reaches_the_agent_only_while_typing_and_never_acts_as_keys() {
    let repo = TestRepo::with_worktrees(PLAN);
    let tmux = Tmux::start(repo, 128, 30);
    tmux.shows("2 slices");
    tmux.keys(&["s"]);
    tmux.shows("agent$");
    // The start's report, which would take the status line's place.
    tmux.shows("staging: agent started");
    let paste = |text: &str| {
        let set = tmux.command().args(["set-buffer", "--", text]).status();
        assert!(set.unwrap().success());
        // -p: bracketed, since the dashboard asked the host for it.
        let pasted = tmux
            .command()
            .args(["paste-buffer", "-p", "-t", "0"])
            .status();
        assert!(pasted.unwrap().success());
    };
    // On the board, pasted text is no keys: x then y would kill the agent,
    // Q then y would stop everything.
    paste("xyQyq");
    tmux.shows("paste ignored (5 characters)");
    tmux.shows("1 running");
    assert!(!tmux.screen().contains("DASHBOARD-EXITED"));
    // A paste holding the paste's end marker does not end there: what
    // follows the marker is pasted text, not keys (g would show the grid).
    paste("A\u{1b}[201~g");
    tmux.shows("paste ignored (2 characters)");
    let screen = tmux.screen();
    assert!(
        screen.contains("┌ slices"),
        "still the board, not the grid:\n{screen}"
    );
    // Typing, it reaches the agent as one paste.
    tmux.keys(&["Enter"]);
    tmux.shows("TYPING into");
    paste("echo pasted-$((40+2))");
    tmux.keys(&["Enter"]);
    tmux.until("the pasted command's output", |s| {
        s.lines()
            .any(|l| l.contains("pasted-42") && !l.contains("echo"))
    });
}

/// An agent that turns SGR mouse reporting on, shows the 20 bytes it gets
/// (`cat -v`), waits for Enter, then pages a long file with `less`.
const MOUSE_AGENT: &str = r#"printf '\033[?1000h\033[?1006h'
stty raw -echo
printf 'mouse-agent\r\n'
got=$(head -c 20 | cat -v)
stty sane
printf '\033[?1000l\033[?1006l'
echo "got:$got"
seq 1 500 > numbers.txt
read -r _
exec env -u LESS -u LESSOPEN less numbers.txt
"#;

/// What a pane shows on one screen row, from column `x` to its border.
fn pane_row(screen: &str, x: usize, y: usize) -> String {
    screen
        .lines()
        .nth(y)
        .unwrap_or_default()
        .chars()
        .skip(x)
        .take_while(|c| *c != '│')
        .collect::<String>()
        .trim_end()
        .to_owned()
}

#[test]
fn the_mouse_in_an_agents_pane_reaches_it_as_in_a_real_terminal() {
    let plan = PLAN.replace(
        "env PS1='agent$ ' bash --norc --noprofile -i",
        "sh mouse-agent.sh",
    );
    let repo = TestRepo::with_plan_text(&plan);
    repo.write("mouse-agent.sh", MOUSE_AGENT);
    repo.commit_all("the mouse agent");
    repo.sliceboard(&["up"]).ok();
    let tmux = Tmux::start(repo, 132, 30);
    tmux.shows("2 slices");
    tmux.keys(&["s"]);
    // The pane's frames and the board's news that the agent runs come
    // apart; the dashboard sends clicks only to an agent it knows runs.
    let screen = tmux.until("the agent's first line, and it running", |s| {
        s.contains("mouse-agent") && s.contains("1 running")
    });
    // The pane's top-left cell on the host's screen, 0-based.
    let (x, y) = screen
        .lines()
        .enumerate()
        .find_map(|(y, l)| Some((l.split_once("mouse-agent")?.0.chars().count(), y)))
        .expect("the agent's first line is on the screen");
    // The host terminal reports a click at its own 1-based cell: the pane's
    // cell (10, 4) plus where the pane is. The agent gets it at (11, 5).
    let (column, row) = (x + 10 + 1, y + 4 + 1);
    // Shift keeps it for the dashboard: the agent gets nothing of it.
    // Sent again when nothing arrived: about one run in ten of the whole
    // binary, the first click never reached the agent (cause not found;
    // see the issue 25 closing note). Bytes that did arrive are not
    // hidden: the agent reads exactly one click's worth.
    let got = "got:^[[<0;11;5M^[[<0;11;5m";
    for attempt in 1..=3 {
        tmux.text(&format!("\x1b[<4;{column};{row}M\x1b[<4;{column};{row}m"));
        tmux.text(&format!("\x1b[<0;{column};{row}M\x1b[<0;{column};{row}m"));
        if attempt == 3 {
            tmux.shows(got);
        } else if poll_within(Duration::from_secs(3), || tmux.screen().contains(got)) {
            break;
        }
    }

    // less on the alternate screen asks for no mouse: the wheel is three
    // arrow keys a notch.
    tmux.keys(&["Enter", "Enter", "C-]"]);
    tmux.until("less at the top", |s| pane_row(s, x, y) == "1");
    let wheel = |button: u8| tmux.text(&format!("\x1b[<{button};{column};{row}M"));
    // Shift-wheel (65 + 4) is the dashboard's; the plain notch after it is
    // less's: 3 lines, not 6.
    wheel(69);
    wheel(65);
    // less takes the three arrows one by one: a capture may see it on its
    // way, so wait for the third line down, then make sure it stays.
    tmux.until("less three lines down", |s| pane_row(s, x, y) == "4");
    // A sleep, not a wait: what is tested is that no more scrolling
    // follows, so less is given a moment in which it must stay put.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(pane_row(&tmux.screen(), x, y), "4");
    wheel(64);
    tmux.until("less back at the top", |s| pane_row(s, x, y) == "1");
}

impl Tmux {
    /// A tmux format expanded for window 0's pane, e.g. `#{alternate_on}`.
    fn format(&self, format: &str) -> String {
        let out = self
            .command()
            .args(["display-message", "-p", "-t", "0", format])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The terminal modes of window 0's pane, as `stty -a` prints them.
    fn stty(&self) -> String {
        let tty = self.format("#{pane_tty}");
        let out = Command::new("stty")
            .args(["-a", "-F", &tty])
            .output()
            .unwrap();
        assert!(out.status.success(), "stty -F {tty}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// Whether `stty -a` output has `flag` on (`icanon`, not `-icanon`).
fn stty_on(stty: &str, flag: &str) -> bool {
    stty.split_whitespace().any(|word| word == flag)
}

#[test]
fn every_fatal_signal_detaches_and_gives_the_terminal_back() {
    let repo = TestRepo::with_worktrees(PLAN);
    let tmux = Tmux::start(repo, 116, 30);
    tmux.shows("2 slices");
    tmux.keys(&["s"]);
    tmux.shows("agent$");
    let agent = agent_pid(&tmux.repo, "staging").expect("the agent runs");
    for (signal, what) in [
        (libc::SIGINT, "SIGINT"),
        (libc::SIGQUIT, "SIGQUIT"),
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGHUP, "SIGHUP"),
    ] {
        tmux.until(&format!("the board before {what}"), |s| {
            s.contains("1 running") && !s.contains("DASHBOARD-EXITED")
        });
        // The dashboard took the terminal: so the checks below can fail.
        let modes = tmux.format("#{alternate_on} #{mouse_any_flag}");
        assert_eq!(modes, "1 1", "{what}: alternate screen and mouse before");
        let stty = tmux.stty();
        assert!(
            !stty_on(&stty, "icanon") && !stty_on(&stty, "echo"),
            "{what}: raw before: {stty}"
        );

        let dashboard = dashboard_pid(&tmux, "0");
        // SAFETY: plain kill(2) of the dashboard we found by its parent.
        unsafe { libc::kill(dashboard, signal) };
        let screen = tmux.shows("DASHBOARD-EXITED-");
        assert!(
            screen.contains("detached; agents keep running"),
            "{what}: {screen}"
        );
        assert_eq!(
            tmux.format("#{alternate_on} #{mouse_any_flag}"),
            "0 0",
            "{what}: the alternate screen or mouse reporting was left on"
        );
        let stty = tmux.stty();
        assert!(
            stty_on(&stty, "icanon") && stty_on(&stty, "echo"),
            "{what}: the terminal was left raw: {stty}"
        );
        // It detached: the agent is the supervisor's, and goes on.
        assert_eq!(
            agent_pid(&tmux.repo, "staging"),
            Some(agent),
            "{what}: the agent ended with the dashboard"
        );
        tmux.respawn(BIN);
    }
    // Detaching ended no run, so the journal says none ended; stopping
    // everything from the dashboard journals the agent's end.
    assert_eq!(
        tmux.repo.last_agent_status("staging").as_deref(),
        Some("running")
    );
    tmux.shows("1 running");
    tmux.keys(&["Q"]);
    tmux.shows("y: stop all");
    tmux.keys(&["y"]);
    let screen = tmux.shows("DASHBOARD-EXITED-0");
    assert!(
        screen.contains("was stopped from a dashboard (`Q`)"),
        "{screen}"
    );
    assert_eq!(
        tmux.repo.last_agent_status("staging").as_deref(),
        Some("killed")
    );
}

#[test]
fn a_plan_edited_while_the_dashboard_runs_changes_the_board_in_place() {
    let repo = TestRepo::with_worktrees(PLAN);
    let plan_file = repo.root.join("sliceboard.toml");
    let seeds = repo.worktree("seeds");
    // Saved as editors save: a new file renamed over the old one.
    let save = move |text: &str| {
        let new = plan_file.with_extension("toml.new");
        std::fs::write(&new, text).unwrap();
        std::fs::rename(&new, &plan_file).unwrap();
    };
    let tmux = Tmux::start(repo, 160, 30);
    tmux.until("both slices", |s| {
        s.contains("staging") && s.contains("marts")
    });

    // A slice added to the file appears as planned; `U` creates it.
    save(&format!(
        "{PLAN}\n[[slice]]\nname = \"seeds\"\nowns = [\"seeds/**\"]\n"
    ));
    tmux.shows("plan reloaded: added seeds (press U to create)");
    tmux.until("seeds, planned", |s| {
        s.lines()
            .any(|l| l.contains("seeds") && l.contains("planned"))
    });
    tmux.keys(&["U"]);
    tmux.until("seeds, ready", |s| {
        s.lines()
            .any(|l| l.contains("seeds") && l.contains("ready"))
    });
    assert!(seeds.is_dir());
    tmux.until("seeds' live diff, like the others'", |s| {
        s.matches("no changes").count() == 3
    });

    // A broken edit is shown in the header; the board stays as it was.
    save(&PLAN.replacen("base", "bsae", 1));
    let screen = tmux.shows("plan not reloaded: sliceboard.toml:1: bsae: is not a known key");
    assert!(screen.contains("seeds"), "{screen}");

    // Removing slices marks the one whose worktree exists.
    save(PLAN);
    tmux.until("seeds marked as removed", |s| {
        s.lines()
            .any(|l| l.contains("seeds") && l.contains("(removed from the plan)"))
            && !s.contains("plan not reloaded")
    });
}

/// The pid of the `sliceboard -C ROOT proxy` a remote dashboard runs
/// through (its ssh stand-in runs it on this machine).
fn proxy_pid(root: &std::path::Path) -> Option<i32> {
    let root = root.to_str().unwrap();
    std::fs::read_dir("/proc").ok()?.find_map(|entry| {
        let pid: i32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let wanted: [&[u8]; 3] = [b"-C", root.as_bytes(), b"proxy"];
        args.windows(3).any(|w| w == wanted).then_some(pid)
    })
}

#[test]
fn a_remote_dashboard_whose_link_is_cut_says_it_was_lost_and_how_to_attach_again() {
    let repo = TestRepo::with_worktrees(PLAN);
    // A stand-in for ssh that runs the remote command here (the tmux
    // server has the test repository's environment).
    let (command, target) = remote_dashboard(&repo);
    let tmux = Tmux::run(repo, 132, 30, &command);
    tmux.shows("2 slices");
    tmux.keys(&["s"]);
    tmux.shows("agent$");
    let agent = agent_pid(&tmux.repo, "staging").expect("the agent runs");

    // The link stalls (the proxy stops forwarding): the header says so,
    // and stops saying it once frames flow again.
    let proxy = proxy_pid(&tmux.repo.root).expect("the proxy runs");
    // SAFETY: plain kill(2) of the proxy process found by its arguments.
    unsafe { libc::kill(proxy, libc::SIGSTOP) };
    tmux.shows("link stalled: nothing from the supervisor for");
    // SAFETY: as above.
    unsafe { libc::kill(proxy, libc::SIGCONT) };
    tmux.until("the stall cleared", |s| !s.contains("link stalled"));

    // The link dies (ssh's connection drops): the proxy goes.
    // SAFETY: plain kill(2) of the proxy process found by its arguments.
    unsafe { libc::kill(proxy, libc::SIGKILL) };
    let screen = tmux.shows("DASHBOARD-EXITED-");
    assert!(
        screen.contains("DASHBOARD-EXITED-1"),
        "a lost link is a failure:\n{screen}"
    );
    let flat = screen.replace('\n', "");
    assert!(
        flat.contains("lost the connection") && !flat.contains("supervisor ended"),
        "{screen}"
    );
    assert!(
        flat.contains(&format!("Attach again: sliceboard --remote {target}")),
        "{screen}"
    );
    // The supervisor and its agent run on.
    assert_eq!(agent_pid(&tmux.repo, "staging"), Some(agent));
}

/// The command line of a dashboard attached to `repo` with `--remote`,
/// through a stand-in for ssh that runs the remote command here (the tmux
/// server has the test repository's environment), and its target.
fn remote_dashboard(repo: &TestRepo) -> (String, String) {
    let ssh = repo.top.join("fake-ssh");
    std::fs::write(&ssh, "#!/bin/sh\nshift\nexec sh -c \"$*\"\n").unwrap();
    std::fs::set_permissions(&ssh, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let target = format!("somehost:{}", repo.root.display());
    let command = format!(
        "SLICEBOARD_REMOTE_SHELL={} SLICEBOARD_REMOTE_BIN={BIN} {BIN} --remote {target}",
        ssh.display()
    );
    (command, target)
}

/// The remote end's `sliceboard`, as a build box's PATH would give it:
/// a script that sets the test repository's fixed environment (a login
/// over ssh starts from the user's own) and runs the binary.
fn remote_bin(repo: &TestRepo) -> std::path::PathBuf {
    let script = format!("#!/bin/sh\n{}exec {BIN} \"$@\"\n", repo.env_script());
    let path = repo.top.join("remote-sliceboard");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path
}

/// Whether `pid` runs under an sshd session (one of its ancestors is sshd).
fn under_sshd(pid: i32) -> bool {
    let mut pid = pid;
    while pid > 1 {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim().starts_with("sshd") {
            return true;
        }
        let Some(stat) = common::procs::stat(pid) else {
            return false;
        };
        pid = stat.ppid;
    }
    false
}

#[test]
fn a_dashboard_over_real_ssh_attaches_types_into_an_agent_and_leaves_it_running() {
    let repo = TestRepo::with_worktrees(PLAN);
    let Some(sshd) = common::sshd::LoopbackSshd::start(&repo.top) else {
        return;
    };
    let target = format!("{}:{}", common::sshd::HOST, repo.root.display());
    let attach = |bin: &str| {
        format!(
            "SLICEBOARD_REMOTE_SHELL='{}' SLICEBOARD_REMOTE_BIN={bin} {BIN} --remote {target}",
            sshd.remote_shell()
        )
    };
    // Where the far end has no sliceboard, the dashboard says so and how
    // to fix it, not that a supervisor closed the link.
    let tmux = Tmux::run(repo, 124, 30, &attach("/nowhere/sliceboard"));
    let screen = tmux.shows("DASHBOARD-EXITED-1");
    assert!(
        screen.replace('\n', "").contains(&format!(
            "`/nowhere/sliceboard` was not found on {}",
            common::sshd::HOST
        )),
        "{screen}"
    );

    let command = attach(remote_bin(&tmux.repo).to_str().unwrap());
    tmux.respawn(&command);
    tmux.shows("2 slices");
    // The proxy the dashboard talks to runs in a login of the real sshd.
    let proxy = poll_some("the proxy over ssh", WAIT, || proxy_pid(&tmux.repo.root));
    assert!(under_sshd(proxy), "the proxy {proxy} is not under sshd");

    // Start an agent and type into its pane, over ssh.
    tmux.keys(&["s"]);
    tmux.shows("agent$");
    tmux.shows("1 running");
    tmux.keys(&["Enter"]);
    tmux.text("echo over-ssh-$((6*7))");
    tmux.keys(&["Enter", "C-]"]);
    tmux.shows("over-ssh-42");
    let agent = agent_pid(&tmux.repo, "staging").expect("the agent runs");

    // q detaches: the ssh session ends, the agent runs on.
    tmux.keys(&["q"]);
    tmux.shows("DASHBOARD-EXITED-0");
    poll_until("the ssh session's proxy ended", WAIT, || {
        proxy_pid(&tmux.repo.root).is_none()
    });
    assert!(alive(agent), "the agent ended with the ssh session");

    // Attach again over ssh: the same agent, its output kept.
    tmux.respawn(&command);
    tmux.shows("over-ssh-42");
    tmux.shows("1 running");
    assert_eq!(agent_pid(&tmux.repo, "staging"), Some(agent));
    tmux.keys(&["q"]);
    tmux.shows("DASHBOARD-EXITED-0");
    tmux.repo.sliceboard(&["stop"]).ok();
    drop(sshd);
}

#[test]
fn a_flag_cleared_from_a_panes_last_two_columns_leaves_nothing_on_the_host() {
    let tmux = Tmux::typing_into_an_agent(120, 30);
    // The agent writes a flag (two regional indicators, one narrow cell
    // each in the emulator) into its last two columns, waits for a line,
    // then writes blanks over it.
    tmux.text(
        "clear; printf '\\e[1;%dH\\U1F1EB\\U1F1F7' $((COLUMNS-1)); read -r; \
         printf '\\e[1;%dH  \\e[5;1Hcleared-%d' $((COLUMNS-1)) $((6*7)); read -r",
    );
    tmux.keys(&["Enter"]);
    tmux.shows("\u{1F1EB}\u{1F1F7}");
    tmux.keys(&["Enter"]);
    let screen = tmux.shows("cleared-42");
    assert!(
        !screen.contains('\u{1F1EB}') && !screen.contains('\u{1F1F7}'),
        "a half of the flag stayed on the host:\n{screen}"
    );
    tmux.keys(&["Enter", "C-]"]);
}

#[test]
fn shift_f3_and_its_kin_reach_the_agent_as_the_terminal_sent_them() {
    let tmux = Tmux::typing_into_an_agent(120, 30);
    // Keys typed before bash's readline hands the terminal back (raw, no
    // echo) are read by it or not echoed: the keys wait for the line's
    // output, which comes once the terminal is the kernel's again.
    tmux.text("echo cat-$((6*7)); cat -v");
    tmux.keys(&["Enter"]);
    tmux.shows("cat-42");
    // tmux, as xterm, sends Shift+F3 as `CSI 1;2R`: the shape of a cursor
    // position report, which the dashboard never asked for.
    tmux.keys(&["S-F3", "F3", "C-F3", "M-F3"]);
    tmux.text(" keys-end");
    tmux.keys(&["Enter"]);
    let screen = tmux.shows("keys-end");
    assert!(
        screen.contains("^[[1;2R^[OR^[[1;5R^[[1;3R keys-end"),
        "{screen}"
    );
    tmux.keys(&["C-c", "C-]"]);
}

#[test]
fn a_broken_plan_file_locks_nobody_out_while_a_supervisor_runs() {
    let repo = TestRepo::with_worktrees(PLAN);
    let plan_file = repo.root.join("sliceboard.toml");
    let tmux = Tmux::start(repo, 150, 30);
    tmux.shows("2 slices");
    std::fs::write(&plan_file, PLAN.replacen("base", "bsae", 1)).unwrap();
    let problem = "plan not reloaded: sliceboard.toml:1: bsae: is not a known key";
    tmux.shows(problem);

    // A new dashboard attaches, with the plan in force and the problem.
    tmux.window(BIN);
    // Polled as a whole: tmux may be caught between the header and the
    // slices of one frame.
    tmux.until_in(
        ":1",
        Duration::from_secs(15),
        "the problem and both slices",
        |s| s.contains(problem) && s.contains("staging") && s.contains("marts"),
    );
    // So does a remote one, through the proxy.
    let (remote, _) = remote_dashboard(&tmux.repo);
    tmux.respawn(&remote);
    let screen = tmux.shows(problem);
    assert!(!screen.contains("DASHBOARD-EXITED"), "{screen}");

    // `status` and `queue` work with the plan in force, and say why.
    let status = tmux.repo.sliceboard(&["status"]);
    assert_eq!(status.code, Some(0), "{status:?}");
    assert!(
        status.stdout.contains("staging") && status.stdout.contains("marts"),
        "{status:?}"
    );
    assert!(
        status.stderr.contains("bsae") && status.stderr.contains("has in force"),
        "{status:?}"
    );
    let queue = tmux.repo.sliceboard(&["queue"]);
    assert_eq!(queue.code, Some(0), "{queue:?}");
    assert!(
        queue.stderr.contains("bsae") && queue.stderr.contains("has in force"),
        "{queue:?}"
    );
}

#[test]
fn a_dashboard_smaller_than_the_agents_screen_shows_the_rows_around_its_cursor() {
    // The agent waits until its terminal is 50 rows high, fills it past
    // the bottom and leaves a prompt on the last row.
    let agent = r#"sh -c 'while [ "$(stty size)" != "50 80" ]; do sleep 0.1; done; seq 1 100; printf prompt-at-the-bottom; sleep 600'"#;
    let plan = PLAN.replace(
        r#""env PS1='agent$ ' bash --norc --noprofile -i""#,
        &serde_json::to_string(agent).unwrap(),
    );
    let repo = TestRepo::with_worktrees(&plan);
    let tmux = Tmux::start(repo, 100, 24);
    tmux.shows("2 slices");
    tmux.keys(&["s"]);
    tmux.shows("1 running");
    // Another client makes the agent's screen larger than this pane.
    let mut link = Link::connect(&tmux.repo.socket(), ClientKind::Cli).unwrap();
    let resized = link
        .request(sliceboard::domain::Command::ResizeAgent {
            slice: sliceboard::domain::SliceName::parse("staging").unwrap(),
            cols: 80,
            rows: 50,
        })
        .unwrap();
    assert!(resized.is_ok(), "{resized:?}");
    let screen = tmux.shows("prompt-at-the-bottom");
    assert!(screen.contains("100"), "{screen}");
}

/// The width of a slice's agent terminal, as the supervisor renders it.
fn agent_cols(repo: &TestRepo, slice: &str) -> u16 {
    let mut dashboard = common::supervised::Dashboard::connect(&repo.socket());
    dashboard.view(&[slice]);
    dashboard.wait_for("the pane", |m| match m {
        sliceboard::domain::wire::ServerMsg::Pane { frame } if frame.slice.as_str() == slice => {
            Some(frame.cols)
        }
        _ => None,
    })
}

/// Polls until the slice's agent is `want` columns wide.
fn until_cols(repo: &TestRepo, slice: &str, what: &str, want: impl Fn(u16) -> bool) -> u16 {
    poll_ok(format!("{slice} {what}"), Duration::from_secs(15), || {
        let cols = agent_cols(repo, slice);
        if want(cols) {
            Ok(cols)
        } else {
            Err(format!("{cols} columns"))
        }
    })
}

#[test]
fn an_agent_made_small_by_one_dashboards_grid_gets_the_other_dashboards_size_back() {
    let repo = TestRepo::with_worktrees(PLAN);
    let tmux = Tmux::start(repo, 128, 30);
    tmux.shows("2 slices");
    tmux.keys(&["s"]);
    tmux.shows("agent$");
    let own = until_cols(&tmux.repo, "staging", "sized", |_| true);

    // A second dashboard shows every agent in its grid: the latest view
    // makes the agent small.
    tmux.window(BIN);
    tmux.shows_in(":1", "agent$");
    let keys = |key: &str| {
        let status = tmux
            .command()
            .args(["send-keys", "-t", ":1", key])
            .status()
            .unwrap();
        assert!(status.success());
    };
    keys("g");
    let cell = until_cols(&tmux.repo, "staging", "a grid cell", |c| c < own);
    assert!(cell < own);
    // It quits: the first dashboard's pane gets its agent back whole.
    keys("q");
    tmux.shows_in(":1", "DASHBOARD-EXITED-0");
    until_cols(&tmux.repo, "staging", "as wide as its pane again", |c| {
        c == own
    });

    // One dashboard alone: leaving its grid gives the agent its pane's
    // size back.
    tmux.keys(&["g"]);
    until_cols(&tmux.repo, "staging", "a grid cell", |c| c < own);
    tmux.keys(&["g"]);
    until_cols(&tmux.repo, "staging", "as wide as its pane again", |c| {
        c == own
    });
}

impl Tmux {
    /// A tmux format expanded for a window's pane, e.g. `#{window_bell_flag}`.
    fn format_of(&self, target: &str, format: &str) -> String {
        let out = self
            .command()
            .args(["display-message", "-p", "-t", target, format])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn select(&self, window: &str) {
        let status = self
            .command()
            .args(["select-window", "-t", window])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

#[test]
fn a_waiting_agent_rings_a_dashboard_in_a_background_window_once_and_says_so_in_the_title() {
    let repo = TestRepo::with_worktrees(PLAN);
    let tmux = Tmux::start(repo, 120, 30);
    tmux.shows("2 slices");
    tmux.keys(&["s"]);
    tmux.shows("1 running");
    // The operator works in another window.
    tmux.window("sleep 600");
    tmux.select(":1");
    assert_eq!(tmux.format_of(":0", "#{window_bell_flag}"), "0");

    let signal = || {
        tmux.repo
            .sliceboard(&["signal", "waiting", "--slice", "staging"])
            .ok()
    };
    signal();
    poll_until("the dashboard's window rang", WAIT, || {
        tmux.format_of(":0", "#{window_bell_flag}") == "1"
    });
    poll_until("the title counts the waiting agent", WAIT, || {
        tmux.format_of(":0", "#{pane_title}") == "sliceboard: 1 waiting"
    });

    // Seen: the flag goes. The same state again is no transition, so it
    // never rings again. A sleep, not a wait: what is tested is that no
    // bell follows.
    tmux.select(":0");
    tmux.select(":1");
    assert_eq!(tmux.format_of(":0", "#{window_bell_flag}"), "0");
    signal();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(tmux.format_of(":0", "#{window_bell_flag}"), "0");

    // Leaving gives the window its title back: the one it had before the
    // dashboard set one, as the other window's still has.
    let untouched = tmux.format_of(":1", "#{pane_title}");
    assert!(!untouched.starts_with("sliceboard"), "{untouched}");
    tmux.select(":0");
    tmux.keys(&["q"]);
    tmux.shows("DASHBOARD-EXITED-0");
    poll_until("the title given back", WAIT, || {
        tmux.format_of(":0", "#{pane_title}") == untouched
    });
}

#[test]
fn e_on_the_diff_tab_opens_the_editor_at_the_line_shown_and_the_dashboard_comes_back() {
    let repo = TestRepo::with_worktrees(PLAN);
    let staging = repo.worktree("staging");
    let editor = repo.top.join("fake-editor");
    let got = repo.top.join("editor-got");
    std::fs::write(
        &editor,
        format!(
            "#!/bin/sh\nprintf 'EDITING %s in %s\\n' \"$*\" \"$(pwd)\"\nIFS= read -r line\nprintf '%s|%s\\n' \"$*\" \"$line\" > {}\n",
            got.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let command = format!("EDITOR={} {BIN}", editor.display());
    let tmux = Tmux::run(repo, 140, 36, &command);
    tmux.until("both slices without changes", |s| {
        s.matches("no changes").count() == 2
    });
    common::write_file(
        &staging.join("models/staging/stg_orders.sql"),
        "select id, user_id\nfrom {{ ref('orders') }}\n",
    );
    tmux.shows("1 file +2 -1");
    tmux.keys(&["Tab"]);
    tmux.shows("+from {{ ref('orders') }}");

    tmux.keys(&["e"]);
    let editing = tmux.shows("EDITING");
    assert!(
        editing.contains(&format!(
            "EDITING +1 models/staging/stg_orders.sql in {}",
            staging.display()
        )),
        "{editing}"
    );
    // The keys are the editor's now, not the dashboard's (j would move
    // the selection, q would detach).
    tmux.text("jq typed here");
    tmux.keys(&["Enter"]);
    poll_until("the editor wrote what it read", WAIT, || {
        std::fs::read_to_string(&got).is_ok_and(|t| t.ends_with('\n'))
    });
    assert_eq!(
        std::fs::read_to_string(&got).unwrap(),
        "+1 models/staging/stg_orders.sql|jq typed here\n"
    );
    // The dashboard is back, drawn whole, and reads keys again.
    let back = tmux.shows("back from");
    assert!(back.contains("+from {{ ref('orders') }}"), "{back}");
    tmux.keys(&["q"]);
    tmux.shows("DASHBOARD-EXITED-0");
}

#[test]
fn a_review_written_on_the_diff_tab_reaches_the_agent_as_one_paste() {
    // staging's agent writes what it reads, escapes visible, to got.txt.
    let plan = PLAN.replacen(
        "owns = [\"models/staging/**\"]",
        "owns = [\"models/staging/**\"]\nagent = \"printf '\\\\033[?2004h'; stty -echo; while IFS= read -r l; do printf '%s\\\\n' \\\"$l\\\" | cat -v >> got.txt; done\"",
        1,
    );
    let repo = TestRepo::with_worktrees(&plan);
    let staging = repo.worktree("staging");
    let tmux = Tmux::start(repo, 120, 36);
    tmux.until("both slices without changes", |s| {
        s.matches("no changes").count() == 2
    });
    common::write_file(
        &staging.join("models/staging/stg_orders.sql"),
        "select id,\n    user_id\nfrom {{ ref('orders') }}\n",
    );
    tmux.shows("1 file +3 -1");
    tmux.keys(&["c"]);
    tmux.shows("REVIEW staging");
    // From the removed line down to the second added one, then a comment.
    tmux.keys(&["j", "j", "c"]);
    tmux.shows("comment on models/staging/stg_orders.sql:2");
    tmux.text("call it customer_id");
    tmux.keys(&["Enter"]);
    tmux.shows("┗ #1 call it customer_id");
    tmux.shows("┃1");
    tmux.keys(&["s"]);
    tmux.shows("review of 1 comment sent to staging");
    let got = poll_ok("the agent read the review", WAIT, || {
        let text = std::fs::read_to_string(staging.join("got.txt")).unwrap_or_default();
        if text.contains("^[[201~") {
            Ok(text)
        } else {
            Err(text)
        }
    });
    assert_eq!(got.matches("^[[200~").count(), 1, "{got}");
    for part in [
        "1. models/staging/stg_orders.sql:2\n```diff\n@@ -1 +1,3 @@\n",
        "+    user_id\n",
        "```\ncall it customer_id\n",
    ] {
        assert!(got.contains(part), "{part:?} in {got}");
    }
    // Sent, the comment goes from the diff and the board.
    tmux.until("the comment gone", |s| {
        !s.contains("┗ #1") && !s.contains("┃1")
    });
    tmux.keys(&["Escape"]);
    tmux.keys(&["q"]);
    tmux.shows("DASHBOARD-EXITED-0");
}

/// Four slices with long names, two of them changing the same file
/// (one of them outside what it owns), differently: outside, shared and
/// a conflict between them.
const FOUR: &str = r#"base = "main"

[agent]
command = "sleep 600"

[[slice]]
name = "staging-catalog"
owns = ["models/staging/**"]

[[slice]]
name = "intermediate-orders"
owns = ["models/intermediate/**"]

[[slice]]
name = "marts-finance"
owns = ["models/marts/**"]

[[slice]]
name = "reports-weekly"
owns = ["reports/**"]
"#;

/// The board's lines about `slice` on a captured screen: the line with
/// its name and the two after it, left of the board's right border.
fn board_lines(screen: &str, slice: &str) -> Option<String> {
    let lines: Vec<&str> = screen.lines().collect();
    let at = lines.iter().position(|l| {
        l.split('│')
            .nth(1)
            .is_some_and(|board| board.contains(slice))
    })?;
    Some(
        lines[at..(at + 3).min(lines.len())]
            .iter()
            .map(|l| l.split('│').nth(1).unwrap_or("").trim().to_owned())
            .collect::<Vec<_>>()
            .join(" / "),
    )
}

#[test]
fn at_80_by_24_every_slice_shows_its_whole_name_its_state_and_its_flags_apart() {
    let repo = TestRepo::with_worktrees(FOUR);
    repo.commit_in(
        "staging-catalog",
        &[
            ("models/staging/stg_a.sql", "select 1\n"),
            ("models/marts/fct.sql", "select 'staging'\n"),
        ],
        "staging, and a mart it does not own",
    );
    repo.commit_in(
        "marts-finance",
        &[("models/marts/fct.sql", "select 'marts'\n")],
        "the mart",
    );
    let tmux = Tmux::start(repo, 80, 24);
    tmux.shows("4 slices");
    let screen = tmux.until("every slice's flags on the board", |screen| {
        let staging = board_lines(screen, "staging-catalog").unwrap_or_default();
        let marts = board_lines(screen, "marts-finance").unwrap_or_default();
        staging.contains("!1o")
            && staging.contains("!1s")
            && staging.contains("!1c")
            && marts.contains("!1s")
            && marts.contains("!1c")
            && !marts.contains("!1o")
    });
    for (slice, state) in [
        ("staging-catalog", "ready"),
        ("intermediate-orders", "ready"),
        ("marts-finance", "ready"),
        ("reports-weekly", "ready"),
    ] {
        let lines = board_lines(&screen, slice)
            .unwrap_or_else(|| panic!("{slice}'s whole name on the board:\n{screen}"));
        assert!(lines.contains(state), "{slice} {state}: {lines}\n{screen}");
    }
    for quiet in ["intermediate-orders", "reports-weekly"] {
        let lines = board_lines(&screen, quiet).unwrap();
        assert!(!lines.contains('!'), "{quiet} has no flags: {lines}");
    }
}

#[test]
fn merge_at_a_terminal_says_which_check_runs_and_where_its_output_goes() {
    let plan = PLAN.replace(
        "[[slice]]\nname = \"staging\"",
        "[merge]\ncheck = \"sleep 2; echo checked\"\n\n[[slice]]\nname = \"staging\"",
    );
    let repo = TestRepo::with_worktrees(&plan);
    repo.commit_in("staging", &[("models/staging/a.sql", "select 1\n")], "a");
    repo.sliceboard(&["approve", "staging", "--force"]).ok();
    let tmux = Tmux::run(repo, 120, 20, &format!("{BIN} merge staging"));
    let screen = tmux.shows("DASHBOARD-EXITED-0");
    let checking = screen
        .lines()
        .position(|l| {
            l.contains(
                "checking staging (attempt 1; its output: .git/sliceboard/merge/attempt-1.log)",
            )
        })
        .unwrap_or_else(|| panic!("the check named while it ran:\n{screen}"));
    let merged = screen
        .lines()
        .position(|l| l.contains("merged staging into"))
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(checking < merged, "{screen}");
}

#[test]
fn the_board_shows_what_each_slice_cost_and_a_spent_budget_is_raised_with_one_key() {
    // An aider-like agent: a cost line after each reply, the second past
    // its budget of $0.05.
    let agent = "echo 'Tokens: 2.5k sent, 215 received. Cost: $0.0312 message, $0.0312 session.'; \
        until [ -e more ]; do sleep 0.1; done; \
        echo 'Tokens: 3k sent, 300 received. Cost: $0.03 message, $0.0612 session.'; exec sleep 60";
    let plan = PLAN
        .replace(
            "command = \"env PS1='agent$ ' bash --norc --noprofile -i\"",
            &format!("command = {}", common::toml_string(agent)),
        )
        .replace(
            "name = \"staging\"\n",
            "name = \"staging\"\nbudget = { usd = 0.05 }\n",
        );
    let repo = TestRepo::with_worktrees(&plan);
    let staging = repo.worktree("staging");
    let tmux = Tmux::start(repo, 140, 36);
    tmux.shows("no changes");
    tmux.keys(&["s"]);
    // The row and the header's total: aider's own figure, no estimate.
    let screen = tmux.until("the cost on the row", |s| s.matches("$0.03").count() >= 2);
    assert!(!screen.contains("~$0.03"), "{screen}");
    std::fs::write(staging.join("more"), "").unwrap();
    tmux.shows("budget spent, $ raises it");
    tmux.shows("$0.06");
    tmux.keys(&["$"]);
    tmux.until("the budget raised and the agent going on", |s| {
        !s.contains("budget spent") && s.contains("budget raised")
    });
    // The Events tab: the usage section, and what happened to the budget.
    tmux.keys(&["Tab", "Tab", "Tab", "Tab"]);
    let events = tmux.shows("usage: $0.06 (the agent's own figure)");
    for expected in [
        "budget $0.10, 61% spent",
        "budget raised to $0.10",
        "paused: its budget ($0.05) is spent",
    ] {
        assert!(events.contains(expected), "{expected:?} in:\n{events}");
    }
}
