//! The plan's isolation settings: `[agent] sandbox`, `network`,
//! `sandbox_command`, `writable`, `hidden` and `pass_env`; a slice's own
//! `sandbox` and `network`; `[worktree] ports` and `teardown`.
//!
//! Part of the plan's [`Checker`]. Whether bubblewrap can start here is
//! the workspace's question (`sliceboard check` asks it), not the file's.

use toml::Spanned;

use super::diagnostic::Diagnostic;
use super::load::Checker;
use super::raw::RawAgent;
use crate::domain::sandbox::{COMMAND_PLACEHOLDERS, Network, SandboxKind, SandboxSpec};

const KINDS: [(&str, SandboxKind); 3] = [
    ("none", SandboxKind::None),
    ("bubblewrap", SandboxKind::Bubblewrap),
    ("command", SandboxKind::Command),
];
const NETWORKS: [(&str, Network); 2] = [("host", Network::Host), ("none", Network::None)];
const KIND_FIX: &str = "use `sandbox = \"bubblewrap\"` (Debian's bubblewrap), \"command\" (with `sandbox_command`), or \"none\" (the default)";
const NETWORK_FIX: &str =
    "use `network = \"none\"` (loopback only; needs a sandbox) or \"host\" (the default)";

impl Checker<'_> {
    /// `[agent]`'s sandbox settings, taken out of `raw`.
    pub(super) fn sandbox(&mut self, raw: &mut RawAgent) -> SandboxSpec {
        let kind = self.choice(raw.sandbox.take(), "agent.sandbox", &KINDS, KIND_FIX);
        let network = self.choice(raw.network.take(), "agent.network", &NETWORKS, NETWORK_FIX);
        let command = raw.sandbox_command.take();
        match (&command, kind) {
            (Some(command), SandboxKind::Command) => self.sandbox_command(command),
            (None, SandboxKind::Command) => self.push(
                Diagnostic::error(None, "agent.sandbox_command", "is missing: `sandbox = \"command\"` runs the agent through it")
                    .fix("e.g. `sandbox_command = \"podman run --rm -it --network {network} -v {worktree}:{worktree} -v {git_dir}:{git_dir} -w {worktree} --env-file {env_file} my-image {command}\"`"),
            ),
            (Some(command), _) => {
                let line = self.line(command.span());
                self.push(
                    Diagnostic::warning(line, "agent.sandbox_command", "is not used: `sandbox` is not \"command\"")
                        .fix("set `sandbox = \"command\"` to run agents through it, or remove it"),
                );
            }
            (None, _) => {}
        }
        let mut paths = |list: Vec<Spanned<String>>, key: &str| -> Vec<String> {
            list.into_iter()
                .filter_map(|path| {
                    let text = path.get_ref().trim();
                    if text.starts_with('/') || text.starts_with("~/") {
                        return Some(text.to_owned());
                    }
                    let line = self.line(path.span());
                    self.push(
                        Diagnostic::error(
                            line,
                            key,
                            format!("{:?} is not an absolute path", path.get_ref()),
                        )
                        .fix("write it from `/`, or from the home folder as `~/…`"),
                    );
                    None
                })
                .collect()
        };
        let writable = paths(std::mem::take(&mut raw.writable), "agent.writable");
        let hidden = paths(std::mem::take(&mut raw.hidden), "agent.hidden");
        let pass_env = std::mem::take(&mut raw.pass_env)
            .into_iter()
            .filter_map(|name| {
                if crate::domain::environment::is_variable_name(name.get_ref()) {
                    return Some(name.into_inner());
                }
                let line = self.line(name.span());
                self.push(
                    Diagnostic::error(line, "agent.pass_env", format!("`{}` is not a variable name", name.get_ref()))
                        .fix("list the names of variables the agent gets from sliceboard's environment, e.g. `pass_env = [\"ANTHROPIC_API_KEY\"]`"),
                );
                None
            })
            .collect();
        SandboxSpec {
            kind,
            network,
            command: command.map(Spanned::into_inner),
            writable,
            hidden,
            pass_env,
        }
    }

    /// A `sandbox_command` must run the agent's `{command}`, and knows
    /// only its own placeholders.
    fn sandbox_command(&mut self, command: &Spanned<String>) {
        let line = self.line(command.span());
        let text = command.get_ref();
        if !text.contains("{command}") {
            self.push(
                Diagnostic::error(
                    line,
                    "agent.sandbox_command",
                    "does not run `{command}`, the agent's command",
                )
                .fix("end it with the image and `{command}`, e.g. `… my-image {command}`"),
            );
        }
        for name in crate::domain::template::unknown_in_command(text)
            .into_iter()
            .filter_map(|problem| match problem {
                crate::domain::template::TemplateProblem::UnknownInCommand(name) => Some(name),
                _ => None,
            })
            .filter(|name| !COMMAND_PLACEHOLDERS.contains(&name.as_str()))
        {
            self.push(
                Diagnostic::error(
                    line,
                    "agent.sandbox_command",
                    format!("uses unknown placeholder {{{name}}}"),
                )
                .fix(format!(
                    "it knows {}",
                    COMMAND_PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", ")
                )),
            );
        }
    }

    /// A slice's own `sandbox` and `network`.
    pub(super) fn slice_box(
        &mut self,
        sandbox: Option<Spanned<String>>,
        network: Option<Spanned<String>>,
        key: &str,
    ) -> (Option<SandboxKind>, Option<Network>) {
        let sandbox =
            sandbox.map(|s| self.choice(Some(s), &format!("{key} > sandbox"), &KINDS, KIND_FIX));
        let network = network
            .map(|n| self.choice(Some(n), &format!("{key} > network"), &NETWORKS, NETWORK_FIX));
        (sandbox, network)
    }

    /// `[worktree] ports`: names for `SLICEBOARD_PORT_<NAME>` and
    /// `{port.name}`, each once.
    pub(super) fn ports(&mut self, raw: Option<Vec<Spanned<String>>>) -> Vec<String> {
        let mut ports: Vec<String> = Vec::new();
        for name in raw.unwrap_or_default() {
            let line = self.line(name.span());
            let text = name.get_ref();
            let valid = text.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && text
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !valid {
                self.push(
                    Diagnostic::error(line, "worktree.ports", format!("{text:?} is not a port name"))
                        .fix("use lowercase letters, digits and '_', starting with a letter, e.g. `ports = [\"web\", \"db\"]`"),
                );
            } else if ports.contains(text) {
                self.push(
                    Diagnostic::error(line, "worktree.ports", format!("names {text:?} twice"))
                        .fix("name each port once"),
                );
            } else {
                ports.push(name.into_inner());
            }
        }
        ports
    }

    /// `[worktree] teardown`: non-empty shell commands.
    pub(super) fn teardown(&mut self, raw: Option<Vec<Spanned<String>>>) -> Vec<String> {
        raw.unwrap_or_default()
            .into_iter()
            .filter_map(|command| {
                if !command.get_ref().trim().is_empty() {
                    return Some(command.into_inner());
                }
                let line = self.line(command.span());
                self.push(
                    Diagnostic::error(line, "worktree.teardown", "holds an empty command")
                        .fix("remove it, or write the command, e.g. `teardown = [\"docker compose down\"]`"),
                );
                None
            })
            .collect()
    }

    /// `network = "none"` only where there is a sandbox to hold it.
    pub(super) fn boxes_hold(&mut self, plan: &crate::domain::Plan) {
        let loose: Vec<String> = plan
            .slices
            .iter()
            .filter(|s| {
                let slice_box = plan.box_for(s);
                slice_box.network == Network::None && !slice_box.is_sandboxed()
            })
            .map(|s| s.name.to_string())
            .collect();
        if !loose.is_empty() {
            self.push(
                Diagnostic::error(None, "agent.network", format!("\"none\" needs a sandbox, and {} has none: an agent without one uses the machine's network", loose.join(", ")))
                    .fix("add `sandbox = \"bubblewrap\"` to [agent] or to those slices"),
            );
        }
    }

    /// Every `{port.name}` in the plan's commands names a port of
    /// `[worktree] ports`.
    pub(super) fn port_references(&mut self, plan: &crate::domain::Plan) {
        let commands = plan
            .setup
            .iter()
            .chain(&plan.teardown)
            .chain([&plan.agent.command])
            .chain(plan.agent.resume.as_ref())
            .chain(plan.agent.env.values())
            .chain(plan.slices.iter().filter_map(|s| s.agent.as_ref()))
            .chain(plan.slices.iter().flat_map(|s| s.env.values()));
        let mut unknown: Vec<String> = Vec::new();
        for command in commands {
            for name in crate::domain::template::port_names(command) {
                if !plan.ports.iter().any(|p| p == name) && !unknown.iter().any(|u| u == name) {
                    unknown.push(name.to_owned());
                }
            }
        }
        for name in unknown {
            self.push(
                Diagnostic::error(
                    None,
                    "worktree.ports",
                    format!("has no port {name:?}, which `{{port.{name}}}` names"),
                )
                .fix(format!(
                    "add it: `ports = [{}]`",
                    plan.ports
                        .iter()
                        .map(String::as_str)
                        .chain([name.as_str()])
                        .map(|p| format!("{p:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            );
        }
    }
}
