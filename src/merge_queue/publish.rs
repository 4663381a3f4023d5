//! Handing the result on: the integration branch's checked tip pushed to
//! `[forge] remote`, then `[forge] command` run in the repository (for
//! example `gh pr create --fill --base {base} --head {integration}`), its
//! output journaled with the first URL in it. `sliceboard publish` asks
//! for it; with `[forge] when_empty` the queue does it by itself when it
//! empties.

use std::process::Stdio;
use std::sync::LazyLock;

use regex::Regex;

use super::MergeQueue;
use crate::domain::Event;
use crate::os::process_group;
use crate::store::Actor;

/// Lines of the forge command's output kept in the journal.
const OUTPUT_KEPT: usize = 20;

/// How long the push and the forge command each may take: they run on the
/// queue's thread, which waits meanwhile.
const PUBLISH_LIMIT: std::time::Duration = std::time::Duration::from_secs(120);

static URL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"https?://[^\s'\x22<>]+").expect("valid regex"));

impl MergeQueue {
    pub(super) fn publish(&mut self, actor: Actor) -> Result<String, String> {
        let plan = self.ws.plan.clone();
        let integration = &plan.integration;
        let remote = &plan.forge.remote;
        let tip = self
            .engine
            .tip(integration)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                format!("nothing to publish: {integration} does not exist yet; merge a slice first")
            })?
            .to_string();
        let root = self.ws.git.root().to_owned();
        // The commit the queue checked, whatever moves the branch meanwhile.
        let pushed = process_group::output_within(
            std::process::Command::new("git")
                .args([
                    "-c",
                    "credential.interactive=never",
                    "push",
                    "--quiet",
                    remote,
                ])
                .arg(format!("{tip}:refs/heads/{integration}"))
                .current_dir(&root)
                .env("GIT_TERMINAL_PROMPT", "0")
                .stdin(Stdio::null()),
            PUBLISH_LIMIT,
        )
        .map_err(|err| format!("cannot push {integration} to {remote}: {err}"))?;
        if !pushed.status.success() {
            return Err(format!(
                "cannot push {integration} to {remote}: {}",
                String::from_utf8_lossy(&pushed.stderr).trim()
            ));
        }
        let mut said = format!(
            "pushed {integration} ({}) to {remote}",
            crate::domain::short_commit(&tip)
        );
        let mut output = Vec::new();
        let mut url = None;
        let mut failed = None;
        if let Some(template) = &plan.forge.command {
            let quote =
                |s: &str| shlex::try_quote(s).map_or_else(|_| s.to_owned(), |q| q.into_owned());
            let line = template
                .replace("{base}", &quote(&plan.base))
                .replace("{integration}", &quote(integration))
                .replace("{remote}", &quote(remote));
            let ran = process_group::output_within(
                std::process::Command::new("sh")
                    .arg("-c")
                    .arg(&line)
                    .current_dir(&root)
                    .env("SLICEBOARD_BASE", &plan.base)
                    .env("SLICEBOARD_INTEGRATION", integration)
                    .env("SLICEBOARD_REMOTE", remote)
                    .env("SLICEBOARD_COMMIT", &tip)
                    .env("GIT_TERMINAL_PROMPT", "0")
                    .stdin(Stdio::null()),
                PUBLISH_LIMIT,
            );
            match ran {
                Ok(out) => {
                    let text = format!(
                        "{}{}",
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    );
                    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
                    let keep = lines.len().saturating_sub(OUTPUT_KEPT);
                    output = lines[keep..].to_vec();
                    url = URL.find(&text).map(|m| m.as_str().to_owned());
                    if !out.status.success() {
                        failed = Some(format!(
                            "`{line}` failed ({}): {}",
                            out.status,
                            output.join("\n")
                        ));
                    }
                }
                Err(err) => failed = Some(format!("`{line}` could not run: {err}")),
            }
            match (&url, &failed) {
                (_, Some(_)) => {}
                (Some(url), None) => said.push_str(&format!("; `{line}` ran: {url}")),
                (None, None) => said.push_str(&format!("; `{line}` ran")),
            }
        }
        let tip_pushed = tip.clone();
        self.record(
            actor,
            Event::Published {
                remote: remote.clone(),
                branch: integration.clone(),
                commit: tip,
                command: plan.forge.command.clone(),
                output,
                url,
            },
        );
        self.published = Some(said.clone());
        self.published_commit = Some(tip_pushed);
        match failed {
            Some(why) => Err(format!("{said}, but {why}")),
            None => Ok(said),
        }
    }

    /// With `[forge] when_empty`, after a merge that emptied the queue.
    pub(super) fn publish_when_empty(&mut self) {
        let empty = self.shown.as_ref().is_some_and(|b| b.order.is_empty());
        if !self.ws.plan.forge.when_empty || !empty || self.held() {
            return;
        }
        let tip = self
            .engine
            .tip(&self.ws.plan.integration)
            .ok()
            .flatten()
            .map(|t| t.to_string());
        if tip.is_some() && tip == self.published_commit {
            return;
        }
        if let Err(why) = self.publish(Actor::Sliceboard) {
            tracing::warn!(%why, "publishing when the queue emptied failed");
            self.record(
                Actor::Sliceboard,
                Event::Progress {
                    slice: None,
                    message: format!("the queue emptied; publishing failed: {why}"),
                },
            );
        }
    }
}
