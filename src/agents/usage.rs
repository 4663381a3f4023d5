//! What each slice's agents use and cost, and the budget that pauses one:
//! every step reads the running agents' usage files as they grow
//! (`usage_files`: Claude Code's transcripts, Codex's rollouts) and, once
//! more, an agent's that just ended; aider's cost line is read from its
//! screen when its turn settles; `sliceboard signal usage` adds to it.
//! The board's row gets a [`SliceUsage`] whenever it changes
//! (`Event::UsageChanged`, not journaled).
//!
//! What agents report themselves (aider, signals) and a raised budget are
//! kept in the slice's `usage.json` beside its state, so a supervisor
//! started again knows them; the files are read again from their start.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::Agents;
use super::usage_files::UsageFiles;
use crate::domain::usage::{Budget, Prices, SliceUsage, Tokens, Usage, aider_line};
use crate::domain::{AgentStatus, Event, SliceName};
use crate::store::Actor;

/// The share of a budget at which the operator is called.
const NEAR: f64 = 0.8;

/// Lines of the screen's end aider's cost line is looked for in.
const COST_LINES: usize = 12;

/// What a slot knows of its slice's usage.
#[derive(Debug, Default)]
pub(super) struct SlotUsage {
    files: Option<UsageFiles>,
    ledger: Ledger,
    /// Read once more after the agent stops running.
    once_more: bool,
    last: Option<SliceUsage>,
    /// The 80% call was made for the budget in force.
    near_called: bool,
    /// Its agent was paused for its budget, until it is raised.
    stopped: bool,
}

/// What is kept in `usage.json`.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct Ledger {
    /// What agents reported themselves.
    #[serde(default)]
    reported: Usage,
    /// Times the operator raised the budget.
    #[serde(default)]
    raised: u32,
    /// aider: the money of its sessions before the current one, and the
    /// current one's, as its last cost line said.
    #[serde(default)]
    aider_before: f64,
    #[serde(default)]
    aider_session: f64,
    #[serde(default)]
    aider_line: Option<String>,
}

/// The price table: the shipped prices with the user's `[prices]` over
/// them (their config file); a file that does not load gives the shipped
/// prices alone (the dashboard says what is wrong with it).
pub fn user_prices() -> Prices {
    #[derive(Deserialize)]
    struct Config {
        #[serde(default)]
        prices: std::collections::BTreeMap<String, crate::domain::usage::Price>,
    }
    let Some(path) = crate::os::config_file() else {
        return Prices::default();
    };
    let Ok(text) = std::fs::read_to_string(path) else {
        return Prices::default();
    };
    // Other sections are the dashboard's; only `[prices]` is read here.
    let Ok(value) = toml::from_str::<toml::Table>(&text) else {
        return Prices::default();
    };
    let prices = value
        .get("prices")
        .cloned()
        .map(|p| {
            let mut table = toml::Table::new();
            table.insert("prices".into(), p);
            table
        })
        .and_then(|t| t.try_into::<Config>().ok())
        .map(|c| c.prices)
        .unwrap_or_default();
    Prices::new(prices)
}

impl Agents {
    /// Every slice's usage read again where it may have changed: the
    /// running agents', an agent's that just stopped, and each slice's
    /// once at the start.
    pub(super) fn follow_usage(&mut self) {
        let names: Vec<SliceName> = self.slots.keys().cloned().collect();
        for slice in names {
            self.read_usage(&slice, false);
        }
    }

    /// Reads `slice`'s usage files (always with `force`) and publishes
    /// what changed, then holds the agent to its budget.
    fn read_usage(&mut self, slice: &SliceName, force: bool) {
        let worktree = self
            .state
            .read(|s| s.slices.get(slice).map(|r| r.worktree.clone()));
        let Some(worktree) = worktree else {
            return;
        };
        let first = self
            .slots
            .get(slice)
            .is_some_and(|slot| slot.usage.files.is_none());
        if first {
            let files = self.usage_files(slice, &worktree);
            let ledger = self.load_ledger(slice);
            let Some(slot) = self.slots.get_mut(slice) else {
                return;
            };
            slot.usage.files = Some(files);
            slot.usage.ledger = ledger;
        }
        let Some(slot) = self.slots.get_mut(slice) else {
            return;
        };
        let running = slot.session.as_ref().is_some_and(|s| s.exit().is_none());
        let usage = &mut slot.usage;
        if (first || force || running || usage.once_more)
            && let Some(files) = usage.files.as_mut()
        {
            files.poll();
        }
        usage.once_more = running;
        self.publish_usage(slice);
    }

    /// The usage files of the agents run in `worktree`.
    fn usage_files(&self, slice: &SliceName, worktree: &std::path::Path) -> UsageFiles {
        files_for(&self.ws, slice, worktree)
    }

    fn load_ledger(&self, slice: &SliceName) -> Ledger {
        read_ledger(&self.ws, slice)
    }

    fn save_ledger(&self, slice: &SliceName) {
        let Some(slot) = self.slots.get(slice) else {
            return;
        };
        let Ok(bytes) = serde_json::to_vec(&slot.usage.ledger) else {
            return;
        };
        if let Err(err) = self
            .ws
            .state_dir
            .write_slice_file(slice, "usage.json", &bytes)
        {
            tracing::warn!(%slice, %err, "cannot keep the slice's usage");
        }
    }

    /// The budget in force for `slice`: its own or `[agent]`'s, raised as
    /// many times as the operator raised it.
    fn budget(&self, slice: &SliceName) -> Option<Budget> {
        let raised = self.slots.get(slice).map_or(0, |s| s.usage.ledger.raised);
        budget_of(&self.ws, slice, raised)
    }

    /// Publishes `slice`'s usage when it changed, and pauses its agent
    /// once its budget is spent (calling the operator at 80% first).
    fn publish_usage(&mut self, slice: &SliceName) {
        let budget = self.budget(slice);
        let prices = &self.options.prices;
        let Some(slot) = self.slots.get_mut(slice) else {
            return;
        };
        let mut usage = slot
            .usage
            .files
            .as_ref()
            .map(UsageFiles::usage)
            .unwrap_or_default();
        slot.usage.ledger.add_to(&mut usage);
        let cost = prices.cost(&usage);
        let spent = budget.and_then(|b| b.spent(&usage, cost));
        let running = slot.session.as_ref().is_some_and(|s| s.exit().is_none());
        let now = SliceUsage {
            usage,
            cost,
            budget,
            spent,
            stopped: slot.usage.stopped,
        };
        let mut events = Vec::new();
        let mut pause = false;
        if let (Some(budget), Some(spent)) = (budget, spent) {
            if spent >= 1.0 && running && !slot.usage.stopped {
                slot.usage.stopped = true;
                pause = true;
                events.push(Event::BudgetReached {
                    slice: slice.clone(),
                    budget,
                });
            } else if spent >= NEAR && !slot.usage.near_called && spent < 1.0 {
                slot.usage.near_called = true;
                events.push(Event::BudgetNear {
                    slice: slice.clone(),
                    budget,
                    spent,
                });
            }
        }
        let now = SliceUsage {
            stopped: slot.usage.stopped,
            ..now
        };
        let changed = slot.usage.last.as_ref() != Some(&now) && !now.usage.is_empty();
        if changed {
            slot.usage.last = Some(now.clone());
            (self.report)(Event::UsageChanged {
                slice: slice.clone(),
                usage: Box::new(now),
            });
        }
        if pause {
            let paused = self
                .slots
                .get_mut(slice)
                .and_then(|slot| slot.session.as_mut())
                .map(|session| session.pause());
            if let Some(Err(err)) = paused {
                tracing::warn!(%slice, %err, "cannot pause the agent for its budget");
            } else {
                self.set_status(slice, AgentStatus::Paused, Actor::Sliceboard);
            }
        }
        for event in events {
            self.record(Actor::Sliceboard, event);
        }
    }

    /// After `slice`'s agent settled: aider's cost line on its screen,
    /// taken once per line (`Tokens: … Cost: $… message, $… session.`).
    pub(super) fn look_for_cost(&mut self, slice: &SliceName) {
        let Some(slot) = self.slots.get_mut(slice) else {
            return;
        };
        let Some(session) = slot.session.as_ref() else {
            return;
        };
        let lines = session.with_screen(|screen| screen.tail_logical_lines(COST_LINES));
        let Some((line, cost)) = lines
            .iter()
            .rev()
            .find_map(|line| aider_line(line).map(|cost| (line.trim().to_owned(), cost)))
        else {
            return;
        };
        let ledger = &mut slot.usage.ledger;
        if ledger.aider_line.as_deref() == Some(line.as_str()) {
            return;
        }
        ledger.aider_line = Some(line);
        ledger
            .reported
            .by_model
            .entry(String::new())
            .or_default()
            .add(&cost.tokens);
        if let Some(session_usd) = cost.session_usd {
            // A new aider session starts its count again.
            if session_usd < ledger.aider_session {
                ledger.aider_before += ledger.aider_session;
            }
            ledger.aider_session = session_usd;
        }
        self.save_ledger(slice);
        self.publish_usage(slice);
    }

    /// `sliceboard signal usage`: an agent's own count, added.
    pub(super) fn report_usage(
        &mut self,
        slice: &SliceName,
        tokens: Tokens,
        model: Option<String>,
        usd: Option<f64>,
    ) -> Result<(), super::AgentsError> {
        self.known(slice)?;
        if self
            .slots
            .get(slice)
            .is_some_and(|s| s.usage.files.is_none())
        {
            self.read_usage(slice, true);
        }
        let Some(slot) = self.slots.get_mut(slice) else {
            return Ok(());
        };
        let reported = &mut slot.usage.ledger.reported;
        reported
            .by_model
            .entry(model.unwrap_or_default())
            .or_default()
            .add(&tokens);
        if let Some(usd) = usd {
            *reported.reported_usd.get_or_insert(0.0) += usd;
        }
        self.save_ledger(slice);
        self.publish_usage(slice);
        Ok(())
    }

    /// The operator's key: the budget raised by its own size again, and an
    /// agent paused for it resumed.
    pub(super) fn raise_budget(&mut self, slice: &SliceName) -> Result<String, super::AgentsError> {
        self.known(slice)?;
        if self.budget(slice).is_none() {
            return Err(super::refused(
                slice,
                "it has no budget: set `budget` in `[agent]` or the slice's table",
            ));
        }
        let Some(slot) = self.slots.get_mut(slice) else {
            return Err(super::refused(slice, "it is not in the plan"));
        };
        slot.usage.ledger.raised += 1;
        slot.usage.near_called = false;
        let was_stopped = std::mem::take(&mut slot.usage.stopped);
        self.save_ledger(slice);
        let budget = self.budget(slice).unwrap_or_default();
        self.record(
            Actor::Operator,
            Event::BudgetRaised {
                slice: slice.clone(),
                budget,
            },
        );
        let paused = self
            .slots
            .get(slice)
            .is_some_and(|s| s.status == Some(AgentStatus::Paused));
        if was_stopped && paused {
            self.hold(slice, super::Hold::Resume)?;
        }
        self.publish_usage(slice);
        Ok(format!("{slice}: budget raised to {}", budget.label()))
    }
}

/// A slice's usage read now, without a supervisor (for `status` and
/// `compare`): its agents' files from their start, what they reported,
/// its budget.
pub fn usage_now(
    ws: &crate::workspace::Workspace,
    slice: &SliceName,
    worktree: &std::path::Path,
) -> Option<SliceUsage> {
    if !worktree.exists() {
        return None;
    }
    let mut files = files_for(ws, slice, worktree);
    files.poll();
    let ledger = read_ledger(ws, slice);
    let mut usage = files.usage();
    ledger.add_to(&mut usage);
    if usage.is_empty() {
        return None;
    }
    let cost = user_prices().cost(&usage);
    let budget = budget_of(ws, slice, ledger.raised);
    Some(SliceUsage {
        spent: budget.and_then(|b| b.spent(&usage, cost)),
        usage,
        cost,
        budget,
        stopped: false,
    })
}

impl Ledger {
    /// What the agents reported themselves, added to `usage`.
    fn add_to(&self, usage: &mut Usage) {
        usage.add(&self.reported);
        if self.aider_line.is_some() {
            let aider = self.aider_before + self.aider_session;
            usage.reported_usd = Some(usage.reported_usd.unwrap_or(0.0) + aider);
        }
    }
}

/// The usage files of the agents run in `worktree`, with the slice's
/// agent environment (its config folders); rollouts from before the
/// worktree was made are not its agents'.
fn files_for(
    ws: &crate::workspace::Workspace,
    slice: &SliceName,
    worktree: &std::path::Path,
) -> UsageFiles {
    let env: Vec<(String, String)> = ws
        .plan
        .slice(slice.as_str())
        .and_then(|spec| ws.env(spec).ok())
        .unwrap_or_default();
    let lookup = |key: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(key).ok())
    };
    let since = std::fs::metadata(worktree)
        .and_then(|m| m.created().or_else(|_| m.modified()))
        .unwrap_or_else(|_| SystemTime::now() - Duration::from_secs(86_400));
    UsageFiles::new(worktree, &lookup, since)
}

/// What the slice's agents reported themselves, and its budget's raises.
fn read_ledger(ws: &crate::workspace::Workspace, slice: &SliceName) -> Ledger {
    std::fs::read(ws.state_dir.slice_dir(slice).join("usage.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// The budget in force for `slice`: its own or `[agent]`'s, raised
/// `raised` times.
fn budget_of(ws: &crate::workspace::Workspace, slice: &SliceName, raised: u32) -> Option<Budget> {
    let spec = ws.plan.slice(slice.as_str())?;
    let budget = spec.budget.unwrap_or(ws.plan.agent.budget);
    budget.is_set().then(|| budget.raised(raised))
}
