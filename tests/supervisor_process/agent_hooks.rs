//! Activity hooks added to the agents people run, without setup: Claude
//! Code gets `--settings` with sliceboard's hooks, Codex a `notify`
//! program, aider a notifications command. Stand-ins for the three record
//! what they were started with; the hook commands are then run as the
//! agent runs them (Claude Code's event JSON on stdin), and the board must
//! follow. The real Claude Code from npm is tried too when it is there
//! (`SLICEBOARD_TEST_CLAUDE`, or `claude` on PATH; `.ci/run` installs it).

use crate::common;

use common::supervised::*;
use common::{BIN, Plan, TestRepo, poll_until};
use sliceboard::domain::{Activity, ActivitySource, Command, Event};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// The user's own Claude Code settings, which must never change.
const USER_SETTINGS: &str = r#"{ "theme": "dark", "hooks": { "Stop": [] } }"#;

/// Stand-ins for `claude`, `codex` and `aider`: each writes its arguments
/// (one per line) and its environment under `$FAKE_LOG`, then waits.
fn stand_ins(dir: &Path) -> PathBuf {
    let bin = dir.join("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for agent in ["claude", "codex", "aider"] {
        let path = bin.join(agent);
        std::fs::write(
            &path,
            "#!/bin/sh\n\
             printf '%s\\n' \"$@\" > \"$FAKE_LOG/$SLICEBOARD_SLICE.args.tmp\"\n\
             env > \"$FAKE_LOG/$SLICEBOARD_SLICE.env\"\n\
             mv \"$FAKE_LOG/$SLICEBOARD_SLICE.args.tmp\" \"$FAKE_LOG/$SLICEBOARD_SLICE.args\"\n\
             echo stand-in ready\n\
             exec sleep 600\n",
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

fn plan(hooks: Option<&str>) -> String {
    let mut plan = Plan::new("claude {prompt}");
    if let Some(hooks) = hooks {
        plan = plan.agent(&format!("hooks = {}", toml_string(hooks)));
    }
    plan.staging(&["prompt = \"Migrate staging.\""])
        .marts(&["agent = \"codex {prompt}\"", "prompt = \"Marts.\""])
        .seeds(&["agent = \"aider --yes\""])
        .to_string()
}

struct HookedRepo {
    _sup: Supervise,
    repo: TestRepo,
    log: PathBuf,
}

impl HookedRepo {
    fn new(hooks: Option<&str>) -> Self {
        let repo = TestRepo::with_plan_text(&plan(hooks));
        repo.sliceboard(&["up"]).ok();
        let claude_dir = repo.home().join(".claude");
        std::fs::create_dir_all(&claude_dir).unwrap();
        std::fs::write(claude_dir.join("settings.json"), USER_SETTINGS).unwrap();
        let bin = stand_ins(&repo.top);
        let log = repo.top.join("fake-log");
        std::fs::create_dir_all(&log).unwrap();
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
        let sup = Supervise::start(
            &repo,
            &[("PATH", path.as_str()), ("FAKE_LOG", log.to_str().unwrap())],
        );
        Self {
            _sup: sup,
            repo,
            log,
        }
    }

    /// Starts the slice's agent and returns the arguments it was given.
    fn start(&self, dash: &mut Dashboard, slice: &str) -> Vec<String> {
        dash.request(start_agent(slice)).expect("the agent starts");
        let file = self.log.join(format!("{slice}.args"));
        poll_until(format!("{slice}'s stand-in ran"), WAIT, || file.exists());
        std::fs::read_to_string(file)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The environment the slice's agent was started with.
    fn agent_env(&self, slice: &str) -> BTreeMap<String, String> {
        std::fs::read_to_string(self.log.join(format!("{slice}.env")))
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }
}

/// Runs a hook command as an agent does: through the shell, in the
/// worktree, with the agent's environment and `payload` on stdin.
/// Returns its stdout, which must stay empty (Claude Code reads it).
fn run_hook(command: &str, env: &BTreeMap<String, String>, cwd: &Path, payload: &str) -> String {
    let mut command_line = std::process::Command::new("sh");
    command_line
        .args(["-c", command])
        .env_clear()
        .envs(env)
        .current_dir(cwd);
    let out = with_stdin(command_line, payload);
    assert!(
        out.status.success(),
        "the hook failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `command` with `payload` on its stdin, as an agent hands a hook
/// its event.
fn with_stdin(mut command: std::process::Command, payload: &str) -> std::process::Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(payload.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn signalled(e: &Event, slice: &str, activity: Activity, origin: &str) -> bool {
    matches!(e, Event::ActivityChanged { slice: s, activity: a, source: ActivitySource::Signal, origin: Some(o) }
        if s.as_str() == slice && *a == activity && o == origin)
}

#[test]
fn claude_codex_and_aider_get_hooks_without_touching_the_users_files() {
    let r = HookedRepo::new(None);
    let mut dash = Dashboard::connect(&r.repo.socket());

    let args = r.start(&mut dash, "staging");
    let settings_path = r.repo.state_dir().join("slices/staging/claude-hooks.json");
    assert_eq!(
        args,
        [
            "--settings",
            settings_path.to_str().unwrap(),
            "Migrate staging."
        ]
    );
    let settings: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&settings_path).unwrap()).unwrap();
    let quoted_bin = shlex::try_quote(BIN).unwrap();
    for event in ["UserPromptSubmit", "PreToolUse", "Notification", "Stop"] {
        assert_eq!(
            settings["hooks"][event][0]["hooks"][0]["command"],
            format!("{quoted_bin} hook claude"),
            "{event}"
        );
    }
    dash.wait_event("a line saying the hooks were added", |e| {
        matches!(e, Event::Progress { message, .. } if message.starts_with("Claude Code hooks added"))
    });

    let args = r.start(&mut dash, "marts");
    let notify = format!("notify={}", serde_json::json!([BIN, "hook", "codex"]));
    assert_eq!(args, ["-c", notify.as_str(), "Marts."]);

    let args = r.start(&mut dash, "seeds");
    let notify = format!("{quoted_bin} hook aider");
    assert_eq!(
        args,
        [
            "--notifications",
            "--notifications-command",
            notify.as_str(),
            "--yes"
        ]
    );

    // Nothing was written where the user or the agent's tree would see it.
    let user = std::fs::read_to_string(r.repo.home().join(".claude/settings.json")).unwrap();
    assert_eq!(user, USER_SETTINGS);
    assert!(!r.repo.worktree("staging").join(".claude").exists());
    assert_eq!(
        r.repo
            .git_in(&r.repo.worktree("staging"), &["status", "--porcelain"]),
        ""
    );
}

#[test]
fn hooks_off_starts_the_agent_as_written() {
    let r = HookedRepo::new(Some("off"));
    let mut dash = Dashboard::connect(&r.repo.socket());
    assert_eq!(r.start(&mut dash, "staging"), ["Migrate staging."]);
    assert_eq!(r.start(&mut dash, "marts"), ["Marts."]);
    assert!(
        !r.repo
            .state_dir()
            .join("slices/staging/claude-hooks.json")
            .exists()
    );
}

#[test]
fn hook_events_move_the_slice_through_busy_waiting_and_idle() {
    let r = HookedRepo::new(None);
    let mut dash = Dashboard::connect(&r.repo.socket());
    r.start(&mut dash, "staging");
    let env = r.agent_env("staging");
    assert_eq!(env["SLICEBOARD_SOCKET"], r.repo.socket().to_str().unwrap());
    let settings: serde_json::Value = serde_json::from_slice(
        &std::fs::read(r.repo.state_dir().join("slices/staging/claude-hooks.json")).unwrap(),
    )
    .unwrap();
    let worktree = r.repo.worktree("staging");
    let steps = [
        (
            "UserPromptSubmit",
            r#"{"hook_event_name":"UserPromptSubmit","prompt":"Migrate staging."}"#,
            Activity::Busy,
        ),
        (
            "PreToolUse",
            r#"{"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"dbt build"}}"#,
            Activity::Busy,
        ),
        (
            "Notification",
            r#"{"hook_event_name":"Notification","notification_type":"permission_prompt","message":"Claude needs your permission to use Bash"}"#,
            Activity::Waiting,
        ),
        (
            "Stop",
            r#"{"hook_event_name":"Stop","stop_hook_active":false}"#,
            Activity::Idle,
        ),
    ];
    for (event, payload, activity) in steps {
        let command = settings["hooks"][event][0]["hooks"][0]["command"]
            .as_str()
            .unwrap();
        let stdout = run_hook(command, &env, &worktree, payload);
        assert_eq!(
            stdout, "",
            "{event}: a hook prints nothing Claude would read"
        );
        let origin = format!("claude {event}");
        dash.wait_event(&format!("{activity:?} from {origin}"), |e| {
            signalled(e, "staging", activity, &origin)
        });
        assert_eq!(dash.row("staging").activity, Some(activity));
        assert_eq!(
            dash.row("staging").activity_source,
            Some(ActivitySource::Signal)
        );
        assert_eq!(
            dash.row("staging").last_signal.as_deref(),
            Some(format!("{} from {origin}", activity_word(activity)).as_str())
        );
    }

    // Codex passes its event as the last argument.
    r.start(&mut dash, "marts");
    let env = r.agent_env("marts");
    let command = format!(
        "{} hook codex '{{\"type\":\"agent-turn-complete\",\"turn-id\":\"7\"}}'",
        shlex::try_quote(BIN).unwrap()
    );
    run_hook(&command, &env, &r.repo.worktree("marts"), "");
    dash.wait_event("marts idle from codex", |e| {
        signalled(e, "marts", Activity::Idle, "codex agent-turn-complete")
    });
}

fn activity_word(activity: Activity) -> &'static str {
    sliceboard::domain::board::activity_text(Some(activity))
}

#[test]
fn a_hook_never_fails_the_agent() {
    let repo = TestRepo::with_plan_text(&plan(None));
    // No supervisor, a socket that does not exist, garbage on stdin.
    for (socket, payload) in [
        (repo.socket(), r#"{"hook_event_name":"Stop"}"#),
        (
            PathBuf::from("/nonexistent/x.sock"),
            r#"{"hook_event_name":"Stop"}"#,
        ),
        (repo.socket(), "\u{0}not json at all"),
    ] {
        let mut command = repo.command(BIN, &repo.root);
        command
            .args(["hook", "claude"])
            .env("SLICEBOARD_SLICE", "staging")
            .env("SLICEBOARD_SOCKET", &socket);
        let out = with_stdin(command, payload);
        assert!(out.status.success(), "{payload:?}");
        assert!(out.stdout.is_empty(), "{payload:?}");
    }
}

#[test]
fn a_silent_agent_is_unknown_and_waiting_is_not_done() {
    let f = Fixture::new(
        &[
            // Prints, then sits quietly at something that is not a prompt.
            ("staging", "echo compiling models; exec sleep 600"),
            // Asks a question on screen, without any hook.
            (
                "marts",
                "printf 'Overwrite dim_users? (y/n) '; exec sleep 600",
            ),
            // Says it is finished.
            (
                "seeds",
                "echo migrated; \"$SB\" signal done; exec sleep 600",
            ),
        ],
        &[],
    );
    let mut dash = Dashboard::connect(&f.socket());
    for slice in ["staging", "marts", "seeds"] {
        dash.request(start_agent(slice)).expect("the agent starts");
    }
    dash.wait_event("staging unknown, from a quiet screen", |e| {
        matches!(e, Event::ActivityChanged { slice, activity: Activity::Unknown, source: ActivitySource::Screen, .. } if slice.as_str() == "staging")
    });
    dash.wait_until("marts waiting (a guess) and seeds done (a signal)", |d| {
        d.row("marts").activity == Some(Activity::Waiting)
            && d.row("seeds").activity == Some(Activity::Done)
    });
    assert_eq!(
        dash.row("marts").activity_source,
        Some(ActivitySource::Screen)
    );
    assert_eq!(
        dash.row("seeds").activity_source,
        Some(ActivitySource::Signal)
    );
    assert_eq!(
        dash.row("seeds").last_signal.as_deref(),
        Some("done from sliceboard signal")
    );
    assert_ne!(dash.row("staging").activity, Some(Activity::Idle));

    // `status` says the same, in the same words.
    let table = sliceboard(&f.repo, &["status"]).ok();
    let agent_of = |slice: &str| {
        let line = table
            .lines()
            .find(|l| l.starts_with(slice))
            .unwrap_or_else(|| panic!("{slice} in {table}"));
        line.split_whitespace()
            .nth(2)
            .unwrap_or_default()
            .to_owned()
    };
    assert!(table.starts_with("SLICE"), "{table}");
    assert_eq!(agent_of("staging"), "unknown", "{table}");
    assert_eq!(agent_of("marts"), "~waiting", "{table}");
    assert_eq!(agent_of("seeds"), "done", "{table}");
    let json = status_json(&f.repo);
    let seeds = &json["slices"][2]["agent"];
    assert_eq!(seeds["status"]["state"], "running", "{seeds}");
    assert_eq!(seeds["activity"], "done", "{seeds}");
    assert_eq!(seeds["source"], "signal", "{seeds}");
    assert_eq!(
        seeds["last_signal"], "done from sliceboard signal",
        "{seeds}"
    );
}

/// The real Claude Code: its settings accept sliceboard's hooks, the
/// events it fires offline (the session starting, a prompt submitted)
/// reach the board as signals, and a turn interrupted with Esc (no hook
/// says so) never shows its old signal again when the pane prints.
#[test]
fn real_claude_code_accepts_the_hooks_and_its_events_reach_the_board() {
    let Some(claude) = real_claude() else {
        eprintln!(
            "SKIPPED: Claude Code is not installed (set SLICEBOARD_TEST_CLAUDE or put `claude` on PATH; .ci/run installs it from npm)"
        );
        return;
    };
    let text = Plan::new(&shlex::try_quote(claude.to_str().unwrap()).unwrap())
        .staging(&[])
        .to_string();
    let repo = TestRepo::with_worktrees(&text);
    let worktree = repo.worktree("staging");
    // Claude Code reaches its prompt box offline with onboarding done, the
    // folder trusted and a key approved.
    let key = "sk-ant-api03-sliceboard-test-key-0123456789abcdef";
    let seeded = serde_json::json!({
        "hasCompletedOnboarding": true,
        "theme": "dark",
        "customApiKeyResponses": { "approved": [&key[key.len() - 20..]], "rejected": [] },
        "projects": { worktree.to_str().unwrap(): {
            "hasTrustDialogAccepted": true, "hasCompletedProjectOnboarding": true } },
    });
    std::fs::write(repo.home().join(".claude.json"), seeded.to_string()).unwrap();
    std::fs::create_dir_all(repo.home().join(".claude")).unwrap();
    std::fs::write(repo.home().join(".claude/settings.json"), USER_SETTINGS).unwrap();
    let _sup = Supervise::start(
        &repo,
        &[
            ("ANTHROPIC_API_KEY", key),
            ("DISABLE_AUTOUPDATER", "1"),
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
        ],
    );
    let mut dash = Dashboard::connect(&repo.socket());
    dash.patience = Duration::from_secs(60);
    dash.view(&["staging"]);
    dash.request(start_agent("staging")).expect("claude starts");
    dash.wait_event("idle from claude SessionStart", |e| {
        signalled(e, "staging", Activity::Idle, "claude SessionStart")
    });
    let screen = dash.pane_text(&common::supervised::name("staging"));
    assert!(
        !screen.contains("Settings Warning") && !screen.contains("Invalid"),
        "Claude Code complained about the injected settings:\n{screen}"
    );
    dash.request(Command::SendInput {
        slice: common::supervised::name("staging"),
        bytes: b"hello".to_vec(),
    })
    .unwrap();
    dash.wait_pane("staging", "hello");
    dash.request(Command::SendInput {
        slice: common::supervised::name("staging"),
        bytes: b"\r".to_vec(),
    })
    .unwrap();
    dash.wait_event("busy from claude UserPromptSubmit", |e| {
        signalled(e, "staging", Activity::Busy, "claude UserPromptSubmit")
    });

    // Offline, the turn retries its request; Esc interrupts it. No hook
    // says so, and the screen keeps printing (the interrupt, the prompt
    // box redrawn): the signal that held until then is forgotten, so no
    // "busy (the agent's signal)" comes back, and the agent is not left
    // busy.
    dash.request(Command::SendInput {
        slice: common::supervised::name("staging"),
        bytes: b"\x1b".to_vec(),
    })
    .unwrap();
    let mut after_esc = activity_for(&mut dash, "staging", Duration::from_secs(5));
    // The operator types again: the pane prints.
    dash.request(Command::SendInput {
        slice: common::supervised::name("staging"),
        bytes: b" and again".to_vec(),
    })
    .unwrap();
    after_esc.extend(activity_for(&mut dash, "staging", Duration::from_secs(3)));
    assert!(
        !after_esc
            .iter()
            .any(|(a, s, _)| *a == Activity::Busy && *s == ActivitySource::Signal),
        "the interrupted turn's signal came back: {after_esc:?}"
    );
    let user = std::fs::read_to_string(repo.home().join(".claude/settings.json")).unwrap();
    assert_eq!(user, USER_SETTINGS, "the user's settings are untouched");
}

/// Every activity change of `slice` the dashboard is told of in `span`:
/// a fixed span, since what is tested is what does not come.
fn activity_for(
    dash: &mut Dashboard,
    slice: &str,
    span: Duration,
) -> Vec<(Activity, ActivitySource, Option<String>)> {
    let deadline = std::time::Instant::now() + span;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        let message = match dash.unread.pop_front() {
            Some(message) => message,
            None => match dash.inbox.recv_timeout(left) {
                Ok(message) => {
                    if let sliceboard::domain::wire::ServerMsg::Pane { frame } = &message {
                        dash.panes
                            .entry(frame.slice.clone())
                            .or_default()
                            .apply(frame.clone());
                    }
                    message
                }
                Err(_) => break,
            },
        };
        if let sliceboard::domain::wire::ServerMsg::Update {
            update:
                sliceboard::domain::board::BoardUpdate::Event {
                    event:
                        Event::ActivityChanged {
                            slice: s,
                            activity,
                            source,
                            origin,
                        },
                    ..
                },
        } = message
            && s.as_str() == slice
        {
            seen.push((activity, source, origin));
        }
    }
    seen
}

fn real_claude() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SLICEBOARD_TEST_CLAUDE") {
        return Some(PathBuf::from(path)).filter(|p| p.exists());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("claude"))
            .find(|p| p.is_file())
    })
}
