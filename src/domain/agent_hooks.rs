//! Hooks that let an agent tell sliceboard what it is doing, added to the
//! agents that offer them without the operator writing any setup.
//!
//! Claude Code takes `--settings FILE`, whose hooks are added to the
//! user's own; Codex runs its `notify` program when a turn ends; aider runs
//! `--notifications-command` when it waits for input. This module knows
//! which agent a command starts, how to add sliceboard's hook to that
//! command line, and what each hook event means as an [`Activity`]. It
//! writes no file and runs nothing: the supervisor writes the settings
//! file, and `sliceboard hook` reads the events.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::slice::Activity;
use super::template::shell_quote as quote;

/// Whether sliceboard adds its hooks to the agents it knows (`[agent] hooks`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookMode {
    #[default]
    Auto,
    Off,
}

/// An agent whose hooks sliceboard knows how to add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentKind {
    Claude,
    Codex,
    Aider,
}

impl AgentKind {
    pub const ALL: [AgentKind; 3] = [AgentKind::Claude, AgentKind::Codex, AgentKind::Aider];

    pub fn program(self) -> &'static str {
        match self {
            AgentKind::Claude => "claude",
            AgentKind::Codex => "codex",
            AgentKind::Aider => "aider",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.program() == name)
    }
}

/// Where the agent's program word ends in a command line, and which agent
/// it is: the first word after any `NAME=value` assignments, `exec` or
/// `env`, with or without a directory (`/usr/local/bin/claude`).
pub fn detect(command: &str) -> Option<(AgentKind, usize)> {
    let mut pos = 0;
    let mut after_env = false;
    loop {
        let rest = &command[pos..];
        let start = pos + (rest.len() - rest.trim_start().len());
        let word_len = command[start..]
            .find(char::is_whitespace)
            .unwrap_or(command.len() - start);
        let word = &command[start..start + word_len];
        if word.is_empty() {
            return None;
        }
        let end = start + word_len;
        let is_assignment = word
            .split_once('=')
            .is_some_and(|(name, _)| super::environment::is_variable_name(name));
        if is_assignment || word == "exec" || (word == "env" && !after_env) {
            after_env |= word == "env";
            pos = end;
            continue;
        }
        let program = word.rsplit('/').next().unwrap_or(word);
        return AgentKind::parse(program).map(|kind| (kind, end));
    }
}

/// What the hooks need to know: sliceboard's own executable, and where the
/// supervisor wrote Claude Code's settings file for this slice.
#[derive(Debug, Clone, Copy)]
pub struct HookPaths<'a> {
    pub sliceboard: &'a Path,
    pub claude_settings: &'a Path,
}

/// `command` with sliceboard's hook added after the agent's program word,
/// and which agent it is; `None` when the command starts no agent that
/// sliceboard knows (it is then run as written).
pub fn with_hooks(command: &str, paths: HookPaths<'_>) -> Option<(AgentKind, String)> {
    let (kind, end) = detect(command)?;
    let hook = |agent: &str| format!("{} hook {agent}", quote(&path_text(paths.sliceboard)));
    let args = match kind {
        AgentKind::Claude => format!("--settings {}", quote(&path_text(paths.claude_settings))),
        AgentKind::Codex => {
            // A TOML array; JSON strings are valid TOML basic strings.
            let notify = json!([path_text(paths.sliceboard), "hook", "codex"]);
            format!("-c {}", quote(&format!("notify={notify}")))
        }
        AgentKind::Aider => format!(
            "--notifications --notifications-command {}",
            quote(&hook("aider"))
        ),
    };
    Some((
        kind,
        format!("{} {args}{}", &command[..end], &command[end..]),
    ))
}

/// The events Claude Code reports to `sliceboard hook claude`. Only events
/// every Claude Code 2.x knows: it shows a warning dialog at start for
/// any event name it does not.
const CLAUDE_EVENTS: &[&str] = &[
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "Notification",
    "PreCompact",
    "Stop",
];

/// Claude Code's settings (for `--settings`) that run `sliceboard hook
/// claude` on each event; Claude Code adds them to the user's own hooks.
pub fn claude_settings(sliceboard: &Path) -> serde_json::Value {
    let command = format!("{} hook claude", quote(&path_text(sliceboard)));
    let hooks: serde_json::Map<String, serde_json::Value> = CLAUDE_EVENTS
        .iter()
        .map(|event| {
            let handler = json!({ "type": "command", "command": command, "timeout": 10 });
            let entry = if matches!(*event, "PreToolUse" | "PostToolUse") {
                json!({ "matcher": "*", "hooks": [handler] })
            } else {
                json!({ "hooks": [handler] })
            };
            ((*event).to_owned(), json!([entry]))
        })
        .collect();
    json!({ "hooks": hooks })
}

/// What one hook event says about the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookReading {
    pub activity: Activity,
    /// The agent and its event, e.g. `claude Stop`; shown on the board.
    pub origin: String,
}

/// The activity a hook event means, or `None` for events that say
/// nothing about it (a session ending, a login). `payload` is the JSON the
/// agent hands its hook: on stdin for Claude Code, as the last argument
/// for Codex, nothing for aider.
pub fn read_hook(kind: AgentKind, payload: &str) -> Option<HookReading> {
    let value: serde_json::Value = serde_json::from_str(payload).unwrap_or_default();
    let text = |key: &str| value.get(key).and_then(|v| v.as_str()).unwrap_or_default();
    let (activity, event) = match kind {
        AgentKind::Claude => {
            let event = text("hook_event_name");
            let activity = match event {
                "SessionStart" | "Stop" | "StopFailure" => Activity::Idle,
                "UserPromptSubmit" | "PreToolUse" | "PostToolUse" | "PostToolUseFailure"
                | "PreCompact" | "SubagentStart" => Activity::Busy,
                "PermissionRequest" | "Elicitation" => Activity::Waiting,
                "Notification" => claude_notification(text("notification_type"), text("message"))?,
                _ => return None,
            };
            (activity, event.to_owned())
        }
        AgentKind::Codex => {
            let event = text("type");
            let activity = match event {
                "agent-turn-complete" => Activity::Idle,
                e if e.contains("approval") => Activity::Waiting,
                _ => return None,
            };
            (activity, event.to_owned())
        }
        // aider runs its notifications command only when it waits for input.
        AgentKind::Aider => (Activity::Idle, "waiting for input".to_owned()),
    };
    Some(HookReading {
        activity,
        origin: format!("{} {event}", kind.program()),
    })
}

/// A Claude Code notification: a permission prompt or a question needs the
/// operator; "waiting for your input" after a minute at the prompt is only
/// a reminder that the turn is over.
fn claude_notification(kind: &str, message: &str) -> Option<Activity> {
    match kind {
        "permission_prompt" | "elicitation_dialog" => Some(Activity::Waiting),
        "idle_prompt" => Some(Activity::Idle),
        "" if message.to_lowercase().contains("waiting for your input") => Some(Activity::Idle),
        "" => Some(Activity::Waiting),
        _ => None,
    }
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> HookPaths<'static> {
        HookPaths {
            sliceboard: Path::new("/opt/sb/sliceboard"),
            claude_settings: Path::new("/r/.git/sliceboard/slices/a b/claude-hooks.json"),
        }
    }

    #[test]
    fn finds_the_agent_after_assignments_exec_and_env() {
        for (command, kind) in [
            ("claude {prompt}", AgentKind::Claude),
            (
                "  /usr/local/bin/claude --model opus 'x'",
                AgentKind::Claude,
            ),
            ("FOO=1 BAR=x exec claude", AgentKind::Claude),
            ("env DEBUG=1 codex 'fix it'", AgentKind::Codex),
            ("aider --yes-always", AgentKind::Aider),
        ] {
            assert_eq!(detect(command).map(|(k, _)| k), Some(kind), "{command}");
        }
        for command in ["bash -c claude", "claude-squad", "./agent.sh", "", "FOO=1"] {
            assert_eq!(detect(command), None, "{command}");
        }
    }

    #[test]
    fn adds_each_agents_hook_right_after_its_program() {
        let (_, claude) = with_hooks("exec claude 'Migrate.'", paths()).unwrap();
        assert_eq!(
            claude,
            "exec claude --settings '/r/.git/sliceboard/slices/a b/claude-hooks.json' 'Migrate.'"
        );
        let (_, codex) = with_hooks("codex", paths()).unwrap();
        assert_eq!(
            codex,
            r#"codex -c 'notify=["/opt/sb/sliceboard","hook","codex"]'"#
        );
        let (_, aider) = with_hooks("aider --yes", paths()).unwrap();
        assert_eq!(
            aider,
            "aider --notifications --notifications-command '/opt/sb/sliceboard hook aider' --yes"
        );
        assert_eq!(with_hooks("./my-agent.sh {prompt}", paths()), None);
    }

    #[test]
    fn claude_settings_run_the_hook_on_every_event() {
        let settings = claude_settings(Path::new("/opt/my sb/sliceboard"));
        for event in CLAUDE_EVENTS {
            let command = &settings["hooks"][event][0]["hooks"][0]["command"];
            assert_eq!(command, "'/opt/my sb/sliceboard' hook claude", "{event}");
        }
        assert_eq!(settings["hooks"]["PreToolUse"][0]["matcher"], "*");
    }

    #[test]
    fn claude_events_become_activities() {
        let read = |json: &str| read_hook(AgentKind::Claude, json).map(|r| r.activity);
        assert_eq!(
            read(r#"{"hook_event_name":"UserPromptSubmit","prompt":"hi"}"#),
            Some(Activity::Busy)
        );
        assert_eq!(
            read(r#"{"hook_event_name":"Notification","notification_type":"permission_prompt"}"#),
            Some(Activity::Waiting)
        );
        assert_eq!(
            read(
                r#"{"hook_event_name":"Notification","message":"Claude needs your permission to use Bash"}"#
            ),
            Some(Activity::Waiting)
        );
        assert_eq!(
            read(r#"{"hook_event_name":"Notification","notification_type":"idle_prompt"}"#),
            Some(Activity::Idle)
        );
        assert_eq!(
            read(r#"{"hook_event_name":"Notification","notification_type":"auth_success"}"#),
            None
        );
        assert_eq!(read(r#"{"hook_event_name":"Stop"}"#), Some(Activity::Idle));
        assert_eq!(read(r#"{"hook_event_name":"SessionEnd"}"#), None);
        assert_eq!(read("not json"), None);
        assert_eq!(
            read_hook(AgentKind::Claude, r#"{"hook_event_name":"Stop"}"#)
                .unwrap()
                .origin,
            "claude Stop"
        );
    }

    #[test]
    fn codex_and_aider_report_the_end_of_a_turn() {
        let codex = read_hook(
            AgentKind::Codex,
            r#"{"type":"agent-turn-complete","turn-id":"1"}"#,
        )
        .unwrap();
        assert_eq!(codex.activity, Activity::Idle);
        assert_eq!(codex.origin, "codex agent-turn-complete");
        assert_eq!(
            read_hook(AgentKind::Aider, "").map(|r| r.activity),
            Some(Activity::Idle)
        );
    }
}
