//! The test rig: a fixed environment, repositories with a plan, a
//! supervisor started and stopped like the dashboard does it, and tmux
//! servers on private sockets. Everything started here is ended by `Drop`.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use sliceboard::domain::pane::{PaneView, PaneWant};
use sliceboard::domain::wire::{ClientKind, ClientMsg, ServerMsg};
use sliceboard::domain::{Command, SliceName};
use sliceboard::link::{Link, write_frame};

use super::POLL;

/// `HOME` in `dir`, git with no user or system config and a fixed
/// identity, no tmux or slice of the caller's.
pub fn fixed_environment(dir: &Path) {
    let home = dir.join("home");
    std::fs::create_dir_all(home.join(".config")).expect("home");
    let set = [
        ("HOME", home.display().to_string()),
        (
            "XDG_CONFIG_HOME",
            home.join(".config").display().to_string(),
        ),
        ("XDG_CACHE_HOME", home.join(".cache").display().to_string()),
        ("GIT_CONFIG_NOSYSTEM", "1".into()),
        ("GIT_CONFIG_GLOBAL", "/dev/null".into()),
        ("GIT_AUTHOR_NAME", "Bench Author".into()),
        ("GIT_AUTHOR_EMAIL", "bench@example.com".into()),
        ("GIT_COMMITTER_NAME", "Bench Author".into()),
        ("GIT_COMMITTER_EMAIL", "bench@example.com".into()),
        ("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z".into()),
        ("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z".into()),
        ("GIT_CONFIG_COUNT", "1".into()),
        ("GIT_CONFIG_KEY_0", "commit.gpgsign".into()),
        ("GIT_CONFIG_VALUE_0", "false".into()),
        ("TERM", "xterm-256color".into()),
        ("SHELL", "/bin/bash".into()),
    ];
    // SAFETY: called first thing in main, before any other thread runs.
    unsafe {
        for (key, value) in set {
            std::env::set_var(key, value);
        }
        for key in [
            "TMUX",
            "TMUX_PANE",
            "GIT_DIR",
            "GIT_WORK_TREE",
            "GIT_INDEX_FILE",
            "GIT_COMMON_DIR",
            "SLICEBOARD_SLICE",
            "SLICEBOARD_IDLE_EXIT",
            "XDG_RUNTIME_DIR",
        ] {
            std::env::remove_var(key);
        }
    }
}

pub fn slice(name: &str) -> SliceName {
    SliceName::parse(name).expect("a valid slice name")
}

/// Polls `done` every few ms until it holds; panics after `limit`.
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "waited {limit:?} for {what}");
        std::thread::sleep(POLL);
    }
}

fn run(command: &mut Process) -> String {
    let out = command
        .output()
        .unwrap_or_else(|err| panic!("{command:?}: {err}"));
    assert!(
        out.status.success(),
        "{command:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A repository with one file per slice, a plan, and `sliceboard up` run.
pub struct Repo {
    pub root: PathBuf,
}

impl Repo {
    pub fn create(
        bin: &Path,
        root: &Path,
        slices: &[&str],
        agent: &str,
        scrollback: usize,
    ) -> Self {
        std::fs::create_dir_all(root).expect("repository folder");
        let git = |args: &[&str]| run(Process::new("git").arg("-C").arg(root).args(args));
        git(&["init", "-q", "-b", "main"]);
        let mut plan = format!(
            "base = \"main\"\nmax_running = {}\n\n[agent]\ncommand = {}\nscrollback = {scrollback}\n",
            slices.len(),
            toml_string(agent)
        );
        for name in slices {
            let folder = root.join("models").join(name);
            std::fs::create_dir_all(&folder).expect("slice folder");
            std::fs::write(folder.join("model.sql"), "select 1 as id\n").expect("model");
            plan.push_str(&format!(
                "\n[[slice]]\nname = \"{name}\"\nowns = [\"models/{name}/**\"]\n"
            ));
        }
        std::fs::write(root.join("sliceboard.toml"), plan).expect("plan");
        git(&["add", "-A"]);
        git(&["commit", "-q", "-m", "bench repository"]);
        run(Process::new(bin).arg("-C").arg(root).arg("up"));
        Self {
            root: root.to_owned(),
        }
    }

    pub fn socket(&self) -> PathBuf {
        sliceboard::store::socket_path(&self.root.join(".git/sliceboard"))
    }
}

fn toml_string(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

/// A supervisor started as the dashboard starts it (`sliceboard supervise`
/// in a session of its own); stopped with `sliceboard stop` when dropped.
pub struct Agents {
    bin: PathBuf,
    root: PathBuf,
    socket: PathBuf,
    child: Child,
}

impl Agents {
    pub fn start(bin: &Path, repo: &Repo) -> Self {
        let out = std::fs::File::create(repo.root.join("../supervisor.out")).expect("output file");
        let mut command = Process::new(bin);
        command
            .arg("-C")
            .arg(&repo.root)
            .arg("supervise")
            .current_dir(&repo.root)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("output file"))
            .stderr(out);
        // SAFETY: setsid is async-signal-safe and touches no memory of ours.
        unsafe {
            command.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command.spawn().expect("start the supervisor");
        let socket = repo.socket();
        wait_until(
            Duration::from_secs(15),
            || {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("the supervisor exited at start: {status}");
                }
                Link::connect(&socket, ClientKind::Cli).is_ok()
            },
            "the supervisor to listen",
        );
        Self {
            bin: bin.to_owned(),
            root: repo.root.clone(),
            socket,
            child,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends a command as `sliceboard` would; panics when refused.
    pub fn request(&self, command: Command) {
        let mut link = Link::connect(&self.socket, ClientKind::Cli).expect("connect");
        let what = format!("{command:?}");
        match link.request(command).expect("the supervisor answers") {
            Ok(_) => {}
            Err(why) => panic!("{what} refused: {why}"),
        }
    }

    /// The panes as a dashboard would get them right after asking.
    pub fn panes(&self, slices: &[SliceName]) -> Vec<PaneView> {
        let link = Link::connect(&self.socket, ClientKind::Dashboard).expect("connect");
        let (mut reader, mut writer, _) = link.split();
        let panes = slices
            .iter()
            .map(|slice| PaneWant {
                slice: slice.clone(),
                scroll: 0,
            })
            .collect();
        write_frame(&mut writer, &ClientMsg::View { panes }).expect("ask for the panes");
        let mut views: Vec<Option<PaneView>> = vec![None; slices.len()];
        while views.iter().any(Option::is_none) {
            match reader.receive().expect("read") {
                Some(ServerMsg::Pane { frame }) => {
                    let at = slices
                        .iter()
                        .position(|s| *s == frame.slice)
                        .expect("asked for");
                    views[at].get_or_insert_with(PaneView::default).apply(frame);
                }
                Some(_) => {}
                None => panic!("the supervisor closed the connection"),
            }
        }
        views.into_iter().flatten().collect()
    }

    pub fn pane_history(&self, slice: &SliceName) -> usize {
        self.panes(std::slice::from_ref(slice))[0].history
    }

    /// Starts every agent (each waits on `wait-for go-$SLICEBOARD_SLICE`), sizes them,
    /// lets them go and waits until every pane shows `20000` with its
    /// scrollback full.
    pub fn start_filled(&self, sync: &Tmux, names: &[&str], cols: u16, rows: u16) {
        let slices: Vec<SliceName> = names.iter().map(|n| slice(n)).collect();
        for slice in &slices {
            self.request(Command::StartAgent {
                slice: slice.clone(),
            });
            self.request(Command::ResizeAgent {
                slice: slice.clone(),
                cols,
                rows,
            });
        }
        for name in names {
            sync.run(&["wait-for", "-S", &format!("go-{name}")]);
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let panes = self.panes(&slices);
            let filled = |pane: &PaneView| {
                // The grid moves history out in batches: it is full
                // within a batch of rows.
                pane.history + 512 >= super::SCROLLBACK
                    && pane.cols == cols
                    && (0..usize::from(pane.rows)).any(|row| pane.row_text(row) == "20000")
            };
            if panes.iter().all(filled) {
                return;
            }
            if Instant::now() > deadline {
                let states: Vec<String> = panes
                    .iter()
                    .map(|p| {
                        let last = (0..usize::from(p.rows))
                            .map(|row| p.row_text(row))
                            .rfind(|t| !t.is_empty())
                            .unwrap_or_default();
                        format!("{}x{} history {} last {last:?}", p.cols, p.rows, p.history)
                    })
                    .collect();
                panic!("the agents did not all print 20000 lines: {states:#?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Agents {
    fn drop(&mut self) {
        let _ = Process::new(&self.bin)
            .arg("-C")
            .arg(&self.root)
            .arg("stop")
            .stdout(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("the supervisor did not stop; killing it");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A tmux server on a private socket, killed when dropped.
pub struct Tmux {
    socket: String,
    conf: PathBuf,
}

impl Tmux {
    /// `conf` lines go into a config file of its own (none: `/dev/null`).
    pub fn new(dir: &Path, name: &str, conf: &[&str]) -> Self {
        let socket = format!("sbatt-{name}-{}", std::process::id());
        let conf = if conf.is_empty() {
            PathBuf::from("/dev/null")
        } else {
            let path = dir.join(format!("tmux-{name}.conf"));
            std::fs::write(&path, conf.join("\n") + "\n").expect("tmux config");
            path
        };
        Self { socket, conf }
    }

    fn command(&self) -> Process {
        let mut command = Process::new("tmux");
        command
            .arg("-L")
            .arg(&self.socket)
            .arg("-f")
            .arg(&self.conf);
        command
    }

    /// The same as a shell command line.
    pub fn command_line(&self) -> String {
        format!("tmux -L {} -f {}", self.socket, self.conf.display())
    }

    pub fn run(&self, args: &[&str]) -> String {
        run(self.command().args(args))
    }

    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command().args(args).spawn().expect("tmux")
    }

    pub fn new_session(&self, name: &str, cols: u16, rows: u16, cwd: &Path, command: &str) {
        self.run(&[
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            &cols.to_string(),
            "-y",
            &rows.to_string(),
            "-c",
            &cwd.display().to_string(),
            command,
        ]);
    }

    /// Captures the pane every few ms until `done` says yes; returns the
    /// screen that did.
    pub fn wait_for(
        &self,
        target: &str,
        limit: Duration,
        mut done: impl FnMut(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let screen = self.run(&["capture-pane", "-p", "-t", target]);
            if done(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "waited {limit:?} on {target}; it shows:\n{screen}"
            );
            std::thread::sleep(POLL);
        }
    }

    pub fn pane_pid(&self, target: &str) -> i32 {
        let pid = self.run(&["display-message", "-p", "-t", target, "#{pane_pid}"]);
        pid.trim().parse().expect("a pane pid")
    }

    pub fn server_pid(&self) -> i32 {
        let pid = self.run(&["display-message", "-p", "#{pid}"]);
        pid.trim().parse().expect("a server pid")
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self
            .command()
            .arg("kill-server")
            .stderr(Stdio::null())
            .status();
        // tmux 3.3a leaves the socket file behind.
        // SAFETY: getuid has no preconditions.
        let uid = unsafe { libc::getuid() };
        let dir =
            std::env::var_os("TMUX_TMPDIR").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
        let _ = std::fs::remove_file(dir.join(format!("tmux-{uid}")).join(&self.socket));
    }
}

pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// "min / median / max UNIT".
pub fn summary(values: &[f64], unit: &str) -> String {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let digits = if unit == "s" { 3 } else { 1 };
    format!(
        "{min:.digits$} / {:.digits$} / {max:.digits$} {unit}",
        median(values)
    )
}
