//! A slice's box: what the plan says about isolating its agent (`[agent]
//! sandbox`, `network`, `writable`, `hidden`, `pass_env`, a slice's own
//! `sandbox` and `network`), and how a bubblewrap sandbox is laid out for
//! it: the whole filesystem read-only, the slice's worktree and the git
//! objects it commits into writable, the main checkout's files and the
//! other slices' worktrees hidden behind empty folders no one may write,
//! the usual secrets hidden, its own `/tmp`, and with `network = "none"` a
//! network namespace holding only loopback.
//!
//! Pure: which paths exist is the caller's question (`workspace::sandbox`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What runs the agent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SandboxKind {
    /// The agent runs as the user, as any program they start.
    #[default]
    None,
    /// Debian's `bwrap`, laid out by [`bubblewrap_args`].
    Bubblewrap,
    /// The plan's `sandbox_command` template (a `podman run …` line).
    Command,
}

impl SandboxKind {
    pub fn word(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Bubblewrap => "bubblewrap",
            Self::Command => "command",
        }
    }
}

/// What the agent may reach over the network.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Network {
    /// The machine's network, as the user has it.
    #[default]
    Host,
    /// A network namespace of its own: loopback only, nothing outside.
    None,
}

impl Network {
    pub fn word(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::None => "none",
        }
    }
}

/// `[agent]`'s sandbox settings, for every slice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxSpec {
    pub kind: SandboxKind,
    pub network: Network,
    /// With [`SandboxKind::Command`]: the line that runs `{command}` in
    /// the user's own box.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// More paths the agent may write (`~/` is the home folder), e.g. the
    /// agent's own state folder (`~/.claude`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writable: Vec<String>,
    /// More paths hidden from the agent, besides [`SECRETS`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden: Vec<String>,
    /// Variables of the supervisor's environment the agent gets (an API
    /// key); everything else it gets is the plan's `env` and
    /// sliceboard's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pass_env: Vec<String>,
}

/// One slice's box: the plan's, with the slice's own choices over it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SliceBox {
    pub kind: SandboxKind,
    pub network: Network,
}

impl SliceBox {
    pub fn is_sandboxed(self) -> bool {
        self.kind != SandboxKind::None
    }

    /// For the board and `status`: `bubblewrap, network none`; `none` for
    /// an agent that runs as the user.
    pub fn describe(self) -> String {
        match self.kind {
            SandboxKind::None => "none".to_owned(),
            kind => format!("{}, network {}", kind.word(), self.network.word()),
        }
    }
}

/// Files and folders under the home folder an agent never sees inside a
/// sandbox: keys, tokens and credentials of the usual tools.
pub const SECRETS: [&str; 15] = [
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".config/gcloud",
    ".config/gh",
    ".kube",
    ".docker",
    ".netrc",
    ".git-credentials",
    ".pgpass",
    ".npmrc",
    ".pypirc",
    ".dbt/profiles.yml",
    ".local/share/keyrings",
];

/// Variables an agent in a sandbox keeps from the supervisor's
/// environment, besides `pass_env`: what a shell and a toolchain need to
/// run, nothing that holds a secret.
const KEPT_ENV: [&str; 9] = [
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TERM",
];

/// The part of `inherited` a sandboxed agent keeps: [`KEPT_ENV`], the
/// locale (`LC_*`), and the names in `pass_env`.
pub fn kept_env(
    inherited: impl IntoIterator<Item = (String, String)>,
    pass_env: &[String],
) -> Vec<(String, String)> {
    inherited
        .into_iter()
        .filter(|(key, _)| {
            KEPT_ENV.contains(&key.as_str())
                || key.starts_with("LC_")
                || pass_env.iter().any(|p| p == key)
        })
        .collect()
}

/// `~/x` as a path under `home`; other paths as they are.
pub fn expand_home(path: &str, home: &Path) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None if path == "~" => home.to_owned(),
        None => PathBuf::from(path),
    }
}

/// A path hidden from the agent, as the caller found it on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hidden {
    pub path: PathBuf,
    /// A folder is covered by an empty one; a file by an empty file.
    pub is_dir: bool,
}

/// Where one slice's agent lives, every path absolute and existing (the
/// caller checks).
#[derive(Debug, Clone)]
pub struct Layout {
    pub worktree: PathBuf,
    /// The main checkout, whose files are hidden (its `.git` is not).
    pub repo_root: PathBuf,
    /// The repository's common git dir: objects and refs a commit writes.
    pub git_dir: PathBuf,
    /// git's folder for this worktree (`<git dir>/worktrees/<name>`): its
    /// `HEAD` and index.
    pub worktree_git_dir: Option<PathBuf>,
    /// Shown read-only over the sandbox's own `/tmp` (which hides the
    /// real one): the home folder and the supervisor's socket's folder
    /// when they are under `/tmp`.
    pub shown: Vec<PathBuf>,
    /// Inside the git dir, kept read-only: hooks and config (which would
    /// run code outside the box the next time the user runs git), and
    /// sliceboard's own state folder.
    pub read_only: Vec<PathBuf>,
    /// Writable besides the worktree: the slice's dbt database folder,
    /// and the plan's `writable`.
    pub writable: Vec<PathBuf>,
    /// Other slices' worktrees, the secrets, the plan's `hidden`.
    pub hidden: Vec<Hidden>,
    pub network: Network,
    /// Whether the sandbox runs as root, whose capabilities are dropped.
    pub as_root: bool,
}

/// The system every sandbox starts from: the whole filesystem
/// read-only, a `/dev` and a `/proc` of its own.
pub const SYSTEM: [&str; 7] = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"];

/// bubblewrap's arguments for `layout`, up to and with the `--` before the
/// command. Later mounts go over earlier ones, so the order matters:
/// everything read-only first, then what is hidden, then what may be
/// written, then the read-only holes in it.
pub fn bubblewrap_args(layout: &Layout) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    let mut push = |items: &[&str]| args.extend(items.iter().map(|s| (*s).to_owned()));
    push(&[
        "--die-with-parent",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
    ]);
    if layout.as_root {
        push(&["--cap-drop", "ALL"]);
    }
    if layout.network == Network::None {
        push(&["--unshare-net"]);
    }
    push(&SYSTEM);
    push(&["--tmpfs", "/tmp"]);
    let text = |p: &Path| p.to_string_lossy().into_owned();
    for path in &layout.shown {
        args.extend(["--ro-bind".into(), text(path), text(path)]);
    }
    let hide = |args: &mut Vec<String>, path: &Path, is_dir: bool| {
        if is_dir {
            // An empty folder nobody may write into, so a write fails
            // with "Permission denied" instead of vanishing into a tmpfs.
            args.extend([
                "--perms".into(),
                "0555".into(),
                "--tmpfs".into(),
                text(path),
            ]);
        } else {
            args.extend(["--ro-bind".into(), "/dev/null".into(), text(path)]);
        }
    };
    hide(&mut args, &layout.repo_root, true);
    for hidden in &layout.hidden {
        // A hidden path inside the worktree or the git dir would be bound
        // over again below; one around them would hide them.
        if hidden.path.starts_with(&layout.worktree) || layout.worktree.starts_with(&hidden.path) {
            continue;
        }
        hide(&mut args, &hidden.path, hidden.is_dir);
    }
    let bind = |args: &mut Vec<String>, how: &str, path: &Path| {
        args.extend([how.to_owned(), text(path), text(path)]);
    };
    bind(&mut args, "--bind", &layout.git_dir);
    for path in &layout.read_only {
        bind(&mut args, "--ro-bind", path);
    }
    let worktrees = layout.git_dir.join("worktrees");
    if let Some(own) = &layout.worktree_git_dir {
        bind(&mut args, "--ro-bind", &worktrees);
        bind(&mut args, "--bind", own);
    }
    for path in &layout.writable {
        bind(&mut args, "--bind", path);
    }
    bind(&mut args, "--bind", &layout.worktree);
    args.extend(["--chdir".into(), text(&layout.worktree), "--".into()]);
    args
}

/// The values a `sandbox_command` template is filled with.
#[derive(Debug, Clone)]
pub struct CommandVars<'a> {
    /// The agent's command line, as one shell word for `sh -c`.
    pub command: &'a str,
    pub worktree: &'a Path,
    pub git_dir: &'a Path,
    pub slice: &'a str,
    pub network: Network,
    /// The supervisor's socket's folder, for hooks.
    pub socket_dir: &'a Path,
    /// A file of `NAME=value` lines: the slice's environment.
    pub env_file: &'a Path,
}

/// The placeholders of a `sandbox_command`.
pub const COMMAND_PLACEHOLDERS: [&str; 7] = [
    "command",
    "worktree",
    "git_dir",
    "slice",
    "network",
    "socket_dir",
    "env_file",
];

/// `template` with every placeholder filled, each value shell-quoted
/// (`{command}` is `sh -c '<the agent's command>'`, ready to be the
/// container's command).
pub fn fill_command(template: &str, vars: &CommandVars<'_>) -> String {
    let quote = super::template::shell_quote;
    let path = |p: &Path| quote(&p.to_string_lossy());
    let command = format!("sh -c {}", quote(vars.command));
    // The agent's command last, so its own braces are never filled.
    [
        ("worktree", path(vars.worktree)),
        ("git_dir", path(vars.git_dir)),
        ("slice", quote(vars.slice)),
        ("network", vars.network.word().to_owned()),
        ("socket_dir", path(vars.socket_dir)),
        ("env_file", path(vars.env_file)),
        ("command", command),
    ]
    .iter()
    .fold(template.to_owned(), |text, (name, value)| {
        text.replace(&format!("{{{name}}}"), value)
    })
}

/// The slice's environment as a `--env-file` for podman or docker: one
/// `NAME=value` a line, which that format cannot quote, so a value's line
/// breaks become blanks.
pub fn env_file_text(env: &[(String, String)]) -> String {
    env.iter()
        .map(|(key, value)| format!("{key}={}\n", value.replace(['\n', '\r'], " ")))
        .collect()
}

/// What the agent's command is wrapped in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrapper {
    /// The program and its arguments; the agent's shell and command follow.
    pub argv: Vec<String>,
    /// With `Some`, the agent's environment starts empty and gets these
    /// (then sliceboard's and the plan's variables); with `None` it
    /// inherits the supervisor's.
    pub base_env: Option<Vec<(String, String)>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        Layout {
            worktree: "/w/shop.slices/a".into(),
            repo_root: "/w/shop".into(),
            git_dir: "/w/shop/.git".into(),
            shown: vec!["/tmp/home".into()],
            worktree_git_dir: Some("/w/shop/.git/worktrees/a".into()),
            read_only: vec![
                "/w/shop/.git/hooks".into(),
                "/w/shop/.git/sliceboard".into(),
            ],
            writable: vec!["/w/shop/.git/sliceboard/dbt-db/a".into()],
            hidden: vec![
                Hidden {
                    path: "/w/shop.slices/b".into(),
                    is_dir: true,
                },
                Hidden {
                    path: "/home/u/.netrc".into(),
                    is_dir: false,
                },
            ],
            network: Network::None,
            as_root: false,
        }
    }

    fn position(args: &[String], window: &[&str]) -> usize {
        args.windows(window.len())
            .position(|w| w.iter().zip(window).all(|(a, b)| a == b))
            .unwrap_or_else(|| panic!("{window:?} not in {args:?}"))
    }

    fn netrc_at(args: &[String]) -> usize {
        position(args, &["--ro-bind", "/dev/null", "/home/u/.netrc"])
    }

    #[test]
    fn the_worktree_is_writable_over_everything_hidden_and_read_only() {
        let args = bubblewrap_args(&layout());
        let root = position(&args, &["--ro-bind", "/", "/"]);
        let home = position(&args, &["--ro-bind", "/tmp/home", "/tmp/home"]);
        assert!(position(&args, &["--tmpfs", "/tmp"]) < home && home < netrc_at(&args));
        let main = position(&args, &["--perms", "0555", "--tmpfs", "/w/shop"]);
        let other = position(&args, &["--tmpfs", "/w/shop.slices/b"]);
        let netrc = netrc_at(&args);
        let git = position(&args, &["--bind", "/w/shop/.git", "/w/shop/.git"]);
        let state = position(&args, &["--ro-bind", "/w/shop/.git/sliceboard"]);
        let db = position(&args, &["--bind", "/w/shop/.git/sliceboard/dbt-db/a"]);
        let own = position(&args, &["--bind", "/w/shop/.git/worktrees/a"]);
        let worktree = position(&args, &["--bind", "/w/shop.slices/a"]);
        assert!(root < main && main < git && other < git && netrc < git);
        assert!(git < state && state < db && git < own && own < worktree);
        assert!(args.contains(&"--unshare-net".to_owned()));
        assert!(!args.contains(&"--cap-drop".to_owned()));
        assert_eq!(args.last().map(String::as_str), Some("--"));
    }

    #[test]
    fn a_hidden_path_around_the_worktree_is_not_hidden() {
        let mut layout = layout();
        layout.hidden.push(Hidden {
            path: "/w/shop.slices".into(),
            is_dir: true,
        });
        layout.network = Network::Host;
        layout.as_root = true;
        let args = bubblewrap_args(&layout);
        assert!(!args.iter().any(|a| a == "/w/shop.slices"));
        assert!(!args.contains(&"--unshare-net".to_owned()));
        position(&args, &["--cap-drop", "ALL"]);
    }

    #[test]
    fn only_what_a_shell_needs_and_what_the_plan_passes_is_kept() {
        let inherited = [
            ("PATH", "/usr/bin"),
            ("HOME", "/home/u"),
            ("LC_ALL", "C.UTF-8"),
            ("AWS_SECRET_ACCESS_KEY", "x"),
            ("ANTHROPIC_API_KEY", "k"),
            ("SSH_AUTH_SOCK", "/tmp/agent"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let kept = kept_env(inherited, &["ANTHROPIC_API_KEY".to_owned()]);
        let names: Vec<&str> = kept.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["PATH", "HOME", "LC_ALL", "ANTHROPIC_API_KEY"]);
    }

    #[test]
    fn a_sandbox_command_gets_its_values_quoted() {
        let line = fill_command(
            "podman run --rm -it --network {network} -v {worktree}:{worktree} --env-file {env_file} img {command}",
            &CommandVars {
                command: "claude 'fix it' {worktree}",
                worktree: Path::new("/w/my shop/a"),
                git_dir: Path::new("/w/.git"),
                slice: "a",
                network: Network::None,
                socket_dir: Path::new("/run"),
                env_file: Path::new("/s/env"),
            },
        );
        assert_eq!(
            line,
            "podman run --rm -it --network none -v '/w/my shop/a':'/w/my shop/a' --env-file /s/env img sh -c \"claude 'fix it' {worktree}\""
        );
    }

    #[test]
    fn an_env_file_has_one_line_a_variable() {
        let env = [("A", "1"), ("OWNS", "a/**\nb/**")].map(|(k, v)| (k.to_owned(), v.to_owned()));
        assert_eq!(env_file_text(&env), "A=1\nOWNS=a/** b/**\n");
    }
}
