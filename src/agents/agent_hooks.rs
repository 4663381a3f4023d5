//! Adds sliceboard's activity hooks to an agent's command line as the
//! supervisor starts it (docs/agent-hooks.md): writes the Claude Code
//! settings file under the slice's state folder, never into the worktree
//! or the user's own settings. The rules (which agent, which flag, what an
//! event means) live in [`crate::domain::agent_hooks`].

use std::path::Path;

use crate::domain::SliceName;
use crate::domain::agent_hooks::{self, AgentKind, HookMode, HookPaths};
use crate::os::private;
use crate::workspace::Workspace;

/// The agent's command with hooks added, and a line for the slice's Events
/// saying what was added; the command unchanged when hooks are off, the
/// agent is not one sliceboard knows, or the settings cannot be written.
pub fn hooked_command(
    ws: &Workspace,
    slice: &SliceName,
    command: String,
    sliceboard: Option<&Path>,
) -> (String, Option<String>) {
    let Some(sliceboard) = sliceboard.filter(|_| ws.plan.agent.hooks == HookMode::Auto) else {
        return (command, None);
    };
    let settings = ws.state_dir.slice_dir(slice).join("claude-hooks.json");
    let paths = HookPaths {
        sliceboard,
        claude_settings: &settings,
    };
    let Some((kind, hooked)) = agent_hooks::with_hooks(&command, paths) else {
        return (command, None);
    };
    if kind == AgentKind::Claude {
        let json = agent_hooks::claude_settings(sliceboard);
        let written = private::create_dir(&ws.state_dir.slice_dir(slice)).and_then(|()| {
            private::write(
                &settings,
                &serde_json::to_vec_pretty(&json).unwrap_or_default(),
            )
        });
        if let Err(err) = written {
            tracing::warn!(%slice, %err, path = %settings.display(), "Claude Code hooks not written");
            return (
                command,
                Some(format!(
                    "activity hooks not added: cannot write {}: {err}",
                    settings.display()
                )),
            );
        }
    }
    let note = match kind {
        AgentKind::Claude => format!(
            "Claude Code hooks added (--settings {})",
            settings.display()
        ),
        AgentKind::Codex => "Codex notify hook added (-c notify=…)".to_owned(),
        AgentKind::Aider => "aider notifications command added".to_owned(),
    };
    (hooked, Some(note))
}
