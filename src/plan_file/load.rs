//! From `sliceboard.toml` to a [`Plan`]: read the file, parse it, check
//! the top-level settings (`base`, templates, `[agent]`, `[dbt]`,
//! `[merge]`, `[worktree]`) and the plan as a whole (branches, names that
//! collide once templated, prompt sizes, where worktrees go), merge over
//! defaults, and report every problem at once with its line and fix.
//!
//! The `[[slice]]` tables are checked in `slices`, competing variants in
//! `variants`, `[planner]` in `planner`; this module only calls them.
//! Questions about the repository (does the base branch exist, which files
//! does it hold) go through [`RepoFacts`], so this module needs no git.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use toml::Spanned;

use super::diagnostic::{Diagnostic, PlanError, did_you_mean, line_of};
use super::raw::{RawAgent, RawPlan};
use crate::domain::agent_hooks::HookMode;
use crate::domain::calls::{NotifySpec, Reason};
use crate::domain::environment::{RESERVED_PREFIX, is_variable_name};
use crate::domain::plan::{
    AgentSpec, ApproveRule, DEFAULT_BRANCH, DEFAULT_DBT_SCHEMA, DEFAULT_DBT_TARGET,
    DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_RUNNING, DEFAULT_SCROLLBACK, DEFAULT_WORKTREES, DataDiffRule,
    DbtSpec, ForgeSpec, MAX_BATCH, MAX_PARALLEL, MAX_SCROLLBACK, MergeSpec, OnFailure, Plan,
    repo_name,
};
use crate::domain::slice::SliceName;
use crate::domain::template;

/// What the plan needs to know about the repository it lives in.
pub trait RepoFacts {
    /// The main worktree's root, where the plan file lives.
    fn repo_root(&self) -> &Path;
    fn branch_exists(&self, branch: &str) -> bool;
    /// Local branch names, for "did you mean" suggestions.
    fn branches(&self) -> Vec<String>;
    fn is_valid_branch_name(&self, branch: &str) -> bool;
    /// Paths of the files at the tip of `branch`, `/`-separated.
    fn files_at(&self, branch: &str) -> Vec<String>;
    /// Whether slices' globs are compared with each other (and with the
    /// files at the base): not for a plan a running supervisor checked.
    fn compares_slices(&self) -> bool {
        true
    }
}

/// A usable plan, with the warnings that did not stop it.
#[derive(Debug, Clone)]
pub struct LoadedPlan {
    pub plan: Plan,
    pub warnings: Vec<Diagnostic>,
}

/// The largest plan file read: a plan is a few KiB; this leaves room for
/// long prompts and refuses `/dev/zero` behind a symlink.
pub const MAX_PLAN_BYTES: u64 = 4 * 1024 * 1024;

/// Reads and checks the plan at `path`: a regular file (not a FIFO, which
/// would hang the read, nor a device) of at most [`MAX_PLAN_BYTES`].
pub fn load(path: &Path, facts: &dyn RepoFacts) -> Result<LoadedPlan, PlanError> {
    let refuse = |message: String, fix: &str| PlanError {
        file: path.to_owned(),
        diagnostics: vec![Diagnostic::error(None, "file", message).fix(fix)],
    };
    let meta = std::fs::metadata(path).map_err(|err| {
        refuse(
            format!("cannot be read: {err}"),
            "run `sliceboard init` to write a starter plan",
        )
    })?;
    if !meta.is_file() {
        return Err(refuse(
            "is not a regular file (a FIFO, a device or a folder)".into(),
            "make sliceboard.toml a plain file",
        ));
    }
    if meta.len() > MAX_PLAN_BYTES {
        return Err(refuse(
            format!(
                "is {} MiB; a plan is at most {} MiB",
                meta.len() / (1024 * 1024),
                MAX_PLAN_BYTES / (1024 * 1024)
            ),
            "move long prompts into files the agents read (the brief, `{prompt_file}`)",
        ));
    }
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut std::io::Read::take(
            std::fs::File::open(path).map_err(|err| {
                refuse(
                    format!("cannot be read: {err}"),
                    "run `sliceboard init` to write a starter plan",
                )
            })?,
            MAX_PLAN_BYTES + 1,
        ),
        &mut text,
    )
    .map_err(|err| refuse(format!("cannot be read: {err}"), "make it UTF-8 text"))?;
    parse(path, &text, facts)
}

/// Checks plan text; `path` is only used in messages.
pub fn parse(path: &Path, text: &str, facts: &dyn RepoFacts) -> Result<LoadedPlan, PlanError> {
    let fail = |diagnostics| PlanError {
        file: path.to_owned(),
        diagnostics,
    };
    let raw: RawPlan = toml::from_str(text).map_err(|err| fail(vec![toml_problem(text, &err)]))?;
    let mut checker = Checker {
        text,
        facts,
        found: Vec::new(),
        existing_base: None,
    };
    let plan = checker.plan(raw);
    let found = checker.found;
    match plan {
        Some(plan) if !found.iter().any(Diagnostic::is_error) => Ok(LoadedPlan {
            plan,
            warnings: found,
        }),
        _ => Err(fail(found)),
    }
}

/// Turns a parse or shape error from the toml crate into a diagnostic.
fn toml_problem(text: &str, err: &toml::de::Error) -> Diagnostic {
    let line = err.span().map(|span| line_of(text, span.start));
    let message = err.message().trim().to_owned();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (key, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let known: Vec<&str> = expected
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|k| !k.is_empty())
            .collect();
        let fix = match did_you_mean(key, known.iter().copied()) {
            Some(close) => format!(
                "did you mean `{close}`? Known keys here: {}",
                known.join(", ")
            ),
            None => format!("remove it; known keys here: {}", known.join(", ")),
        };
        return Diagnostic::error(line, key, "is not a known key").fix(fix);
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let key = rest.split('`').next().unwrap_or(rest);
        return Diagnostic::error(line, key, "is required here but missing")
            .fix(format!("add `{key} = ...` to this table"));
    }
    Diagnostic::error(line, "syntax", message).fix("see the plan file reference in README.md")
}

/// Checks a plan's parts, recording every problem found; `slices`,
/// `variants` and `planner` add the checks on the `[[slice]]` tables and
/// `[planner]` to it.
pub(super) struct Checker<'a> {
    text: &'a str,
    pub(super) facts: &'a dyn RepoFacts,
    found: Vec<Diagnostic>,
    /// The base branch, once known to exist.
    pub(super) existing_base: Option<String>,
}

impl Checker<'_> {
    pub(super) fn line(&self, span: Range<usize>) -> Option<usize> {
        Some(line_of(self.text, span.start))
    }

    pub(super) fn push(&mut self, diagnostic: Diagnostic) {
        self.found.push(diagnostic);
    }

    /// Builds the plan, recording every problem; `None` when a required
    /// part is missing altogether.
    fn plan(&mut self, raw: RawPlan) -> Option<Plan> {
        let base = self.base(raw.base);
        let integration = match raw.integration {
            Some(value) => {
                self.branch_name(&value, "integration");
                value.into_inner()
            }
            None => base.clone().unwrap_or_default(),
        };
        let worktrees = self.template(raw.worktrees, "worktrees", DEFAULT_WORKTREES, true);
        let branch = self.template(raw.branch, "branch", DEFAULT_BRANCH, true);
        let max_running = match raw.max_running {
            Some(value) if *value.get_ref() < 1 => {
                let line = self.line(value.span());
                self.push(
                    Diagnostic::error(line, "max_running", "must be at least 1")
                        .fix("set how many agents may run at once, e.g. `max_running = 4`"),
                );
                DEFAULT_MAX_RUNNING
            }
            Some(value) => usize::try_from(*value.get_ref()).unwrap_or(DEFAULT_MAX_RUNNING),
            None => DEFAULT_MAX_RUNNING,
        };
        let agent = self.agent(raw.agent);
        let dbt = self.dbt(raw.dbt);
        let merge = raw
            .merge
            .map_or_else(MergeSpec::default, |m| self.merge(m, dbt.defer));
        let notify = self.notify(raw.notify);
        let forge = raw.forge.map_or_else(ForgeSpec::default, |f| ForgeSpec {
            remote: f
                .remote
                .filter(|r| !r.trim().is_empty())
                .unwrap_or_else(|| ForgeSpec::default().remote),
            command: f.command.filter(|c| !c.trim().is_empty()),
            when_empty: f.when_empty.unwrap_or(false),
        });
        let mut slices = self.slices(raw.slices);
        if let Some(planner) = self.planner(raw.planner, &slices) {
            slices.push(planner);
        }
        let (setup, teardown, ports) = match raw.worktree {
            Some(worktree) => (
                self.setup(worktree.setup),
                self.teardown(worktree.teardown),
                self.ports(worktree.ports),
            ),
            None => Default::default(),
        };

        let plan = Plan {
            base: base?,
            integration,
            worktrees,
            branch,
            max_running,
            agent: agent?,
            dbt,
            merge,
            notify,
            forge,
            setup,
            teardown,
            ports,
            slices,
        };
        self.branches_per_slice(&plan);
        self.names_never_collide(&plan);
        self.prompts_fit(&plan);
        self.worktrees_outside_repo(&plan);
        self.boxes_hold(&plan);
        self.port_references(&plan);
        Some(plan)
    }

    /// `[merge]`: the check, and how much of the queue runs by itself.
    fn merge(&mut self, raw: super::raw::RawMerge, defer: bool) -> MergeSpec {
        let on_failure = self.choice(
            raw.on_failure,
            "merge.on_failure",
            &[("wait", OnFailure::Wait), ("feedback", OnFailure::Feedback)],
            "use `on_failure = \"feedback\"` to tell the agent at once, or \"wait\" (the default)",
        );
        let approve = self.choice(
            raw.approve,
            "merge.approve",
            &[
                ("human", ApproveRule::Human),
                ("when-green", ApproveRule::WhenGreen),
            ],
            "use `approve = \"when-green\"` to let green slices approve themselves, or \"human\" (the default)",
        );
        let max_attempts = self.within(
            raw.max_attempts,
            "merge.max_attempts",
            (1, 100, DEFAULT_MAX_ATTEMPTS as usize),
            "set how many failed attempts in a row a slice gets, e.g. `max_attempts = 3`",
        ) as u32;
        let batch = self.within(
            raw.batch,
            "merge.batch",
            (1, MAX_BATCH, 1),
            "set how many ready slices are merged and checked together, e.g. `batch = 5`",
        );
        let parallel = self.within(
            raw.parallel,
            "merge.parallel",
            (1, MAX_PARALLEL, 1),
            "set how many queue entries are checked at once, e.g. `parallel = 4`",
        );
        let asked = raw.data_diff.is_some();
        let data_diff = self.choice(
            raw.data_diff,
            "merge.data_diff",
            &[
                ("off", DataDiffRule::Off),
                ("show", DataDiffRule::Show),
                ("block-on-removed-columns", DataDiffRule::BlockOnRemovedColumns),
            ],
            "use `data_diff = \"show\"` (row counts and columns of what the check built, shown in the Queue), \"block-on-removed-columns\", or \"off\"",
        );
        // With deferral, the check's build and the integration's are
        // files sliceboard knows: shown unless the plan says otherwise.
        let data_diff = match (asked, defer) {
            (false, true) => DataDiffRule::Show,
            (true, false) if data_diff != DataDiffRule::Off => {
                self.push(Diagnostic::warning(
                    None,
                    "merge.data_diff",
                    "needs `[dbt] defer = \"integration\"`: the check's build and the integration build are then databases sliceboard knows; no data diff is made",
                ));
                DataDiffRule::Off
            }
            _ => data_diff,
        };
        MergeSpec {
            batch,
            parallel,
            data_diff,
            check: raw
                .check
                .map(Spanned::into_inner)
                .filter(|c| !c.trim().is_empty()),
            auto: raw.auto.unwrap_or(false),
            feedback: raw.feedback.filter(|f| !f.trim().is_empty()),
            on_failure,
            approve,
            max_attempts,
        }
    }

    /// One of `choices` (a word and what it means), the first when the key
    /// is missing or (said with `fix`) names none of them.
    pub(super) fn choice<T: Copy>(
        &mut self,
        value: Option<Spanned<String>>,
        key: &str,
        choices: &[(&str, T)],
        fix: &str,
    ) -> T {
        let fallback = choices[0].1;
        let Some(value) = value else {
            return fallback;
        };
        if let Some((_, chosen)) = choices.iter().find(|(word, _)| word == value.get_ref()) {
            return *chosen;
        }
        let words: Vec<String> = choices
            .iter()
            .map(|(word, _)| format!("{word:?}"))
            .collect();
        let allowed = match words.as_slice() {
            [a, b] => format!("neither {a} nor {b}"),
            _ => format!("not one of {}", words.join(", ")),
        };
        let line = self.line(value.span());
        self.push(
            Diagnostic::error(line, key, format!("{:?} is {allowed}", value.get_ref())).fix(fix),
        );
        fallback
    }

    /// A whole number from `low` to `high`, `default` when the key is
    /// missing or (said with `fix`) out of range.
    fn within(
        &mut self,
        value: Option<Spanned<i64>>,
        key: &str,
        (low, high, default): (usize, usize, usize),
        fix: &str,
    ) -> usize {
        let Some(value) = value else {
            return default;
        };
        match usize::try_from(*value.get_ref()) {
            Ok(n) if (low..=high).contains(&n) => n,
            _ => {
                let line = self.line(value.span());
                self.push(
                    Diagnostic::error(
                        line,
                        key,
                        format!("{} is not between {low} and {high}", value.get_ref()),
                    )
                    .fix(fix),
                );
                default
            }
        }
    }

    /// `[notify]`: every reason in `on` one sliceboard knows; an empty
    /// command is no command.
    fn notify(&mut self, raw: Option<super::raw::RawNotify>) -> NotifySpec {
        let Some(raw) = raw else {
            return NotifySpec::default();
        };
        let defaults = NotifySpec::default();
        let on = match raw.on {
            None => defaults.on,
            Some(names) => {
                let mut on = std::collections::BTreeSet::new();
                for name in names {
                    match Reason::parse(name.get_ref()) {
                        Some(reason) => {
                            on.insert(reason);
                        }
                        None => {
                            let line = self.line(name.span());
                            let known: Vec<&str> = Reason::ALL.iter().map(|r| r.name()).collect();
                            self.push(
                                Diagnostic::error(
                                    line,
                                    "notify.on",
                                    format!(
                                        "{:?} is not a reason sliceboard calls for",
                                        name.get_ref()
                                    ),
                                )
                                .fix(format!("use some of: {}", known.join(", "))),
                            );
                        }
                    }
                }
                on
            }
        };
        NotifySpec {
            on,
            command: raw
                .command
                .map(Spanned::into_inner)
                .filter(|c| !c.trim().is_empty()),
            bell: raw.bell.unwrap_or(defaults.bell),
            desktop: raw.desktop.unwrap_or(defaults.desktop),
            quiet: raw.quiet.unwrap_or(defaults.quiet),
        }
    }

    /// `[worktree] setup`: non-empty shell commands.
    fn setup(&mut self, raw: Option<Vec<Spanned<String>>>) -> Vec<String> {
        let commands = raw.unwrap_or_default();
        let mut setup = Vec::with_capacity(commands.len());
        for command in commands {
            if command.get_ref().trim().is_empty() {
                let line = self.line(command.span());
                self.push(
                    Diagnostic::error(line, "worktree.setup", "holds an empty command")
                        .fix("remove it, or write the command, e.g. `setup = [\"dbt deps\"]`"),
                );
                continue;
            }
            setup.push(command.into_inner());
        }
        setup
    }

    fn base(&mut self, raw: Option<Spanned<String>>) -> Option<String> {
        let Some(base) = raw else {
            self.push(
                Diagnostic::error(
                    None,
                    "base",
                    "is missing: the plan must name the branch slices start from",
                )
                .fix("add `base = \"main\"` (or your default branch) at the top of the file"),
            );
            return None;
        };
        let line = self.line(base.span());
        let name = base.into_inner();
        if !self.facts.branch_exists(&name) {
            let branches = self.facts.branches();
            let fix = match did_you_mean(&name, branches.iter().map(String::as_str)) {
                Some(close) => format!("did you mean `{close}`?"),
                None if branches.is_empty() => {
                    "commit something first: the repository has no branches yet".to_owned()
                }
                None => format!("name an existing branch: {}", branches.join(", ")),
            };
            self.push(
                Diagnostic::error(line, "base", format!("branch `{name}` does not exist")).fix(fix),
            );
        } else {
            self.existing_base = Some(name.clone());
        }
        Some(name)
    }

    fn branch_name(&mut self, value: &Spanned<String>, key: &str) {
        if !self.facts.is_valid_branch_name(value.get_ref()) {
            let line = self.line(value.span());
            self.push(
                Diagnostic::error(line, key, format!("`{}` is not a valid git branch name", value.get_ref()))
                    .fix("use letters, digits, '/', '-', '_' and '.'; no spaces, '..', '~', '^', ':' or '?'"),
            );
        }
    }

    /// Refuses an agent command's `{placeholder}` that looks like a known
    /// one misspelt, with its line; other braces (awk's `{print}`, jq's
    /// `{name}`) are the command's own.
    pub(super) fn command_placeholders(&mut self, value: &Spanned<String>, key: &str) {
        let misspelt = |name: &str| {
            template::PLACEHOLDERS
                .iter()
                .chain(&template::COMMAND_PLACEHOLDERS)
                .any(|known| strsim::levenshtein(name, known) <= 2)
        };
        let problems = template::unknown_in_command(value.get_ref());
        if let Some(problem) = problems.into_iter().find(
            |p| matches!(p, template::TemplateProblem::UnknownInCommand(name) if misspelt(name)),
        ) {
            let line = self.line(value.span());
            self.push(
                Diagnostic::error(line, key, format!("`{}` {problem}", value.get_ref()))
                    .fix("use one of those placeholders, or write the value itself"),
            );
        }
    }

    fn template(
        &mut self,
        raw: Option<Spanned<String>>,
        key: &str,
        default: &str,
        per_slice: bool,
    ) -> String {
        let Some(value) = raw else {
            return default.to_owned();
        };
        if let Err(problem) = template::check(value.get_ref(), per_slice) {
            let line = self.line(value.span());
            self.push(
                Diagnostic::error(line, key, format!("`{}` {problem}", value.get_ref()))
                    .fix(format!("for example `{key} = \"{default}\"`")),
            );
        }
        value.into_inner()
    }

    fn agent(&mut self, raw: Option<Spanned<RawAgent>>) -> Option<AgentSpec> {
        let fix = "add an [agent] table with the command that starts your coding agent, e.g. `command = \"claude {prompt}\"`";
        let Some(raw) = raw else {
            self.push(Diagnostic::error(None, "agent", "is missing").fix(fix));
            return None;
        };
        let table_line = self.line(raw.span());
        let mut raw = raw.into_inner();
        let sandbox = self.sandbox(&mut raw);
        let command = match raw.command {
            Some(c) if !c.get_ref().trim().is_empty() => {
                self.command_placeholders(&c, "agent.command");
                c.into_inner()
            }
            other => {
                let line = other.map(|c| self.line(c.span())).unwrap_or(table_line);
                self.push(Diagnostic::error(line, "agent.command", "is missing or empty").fix(fix));
                return None;
            }
        };
        let env = self.env(raw.env, "agent.env");
        let scrollback = match raw.scrollback {
            None => DEFAULT_SCROLLBACK,
            Some(s) => match usize::try_from(*s.get_ref()) {
                Ok(n) if n <= MAX_SCROLLBACK => n,
                _ => {
                    let line = self.line(s.span());
                    self.push(
                        Diagnostic::error(
                            line,
                            "agent.scrollback",
                            format!("must be between 0 and {MAX_SCROLLBACK} lines"),
                        )
                        .fix(format!("use e.g. `scrollback = {DEFAULT_SCROLLBACK}`")),
                    );
                    DEFAULT_SCROLLBACK
                }
            },
        };
        let waiting_patterns = raw.waiting_patterns.map(|patterns| {
            patterns
                .into_iter()
                .filter(|p| {
                    let Err(err) = regex::Regex::new(p.get_ref()) else {
                        return true;
                    };
                    let line = self.line(p.span());
                    let first = err
                        .to_string()
                        .lines()
                        .last()
                        .unwrap_or_default()
                        .to_owned();
                    self.push(
                        Diagnostic::error(
                            line,
                            "agent.waiting_patterns",
                            format!("{:?} is not a regular expression ({first})", p.get_ref()),
                        )
                        .fix("escape special characters such as `?`, `(` and `[` with a backslash"),
                    );
                    false
                })
                .map(Spanned::into_inner)
                .collect()
        });
        let hooks = self.choice(
            raw.hooks,
            "agent.hooks",
            &[("auto", HookMode::Auto), ("off", HookMode::Off)],
            "use `hooks = \"auto\"` (the default) or `hooks = \"off\"`",
        );
        if let Some(resume) = &raw.resume {
            self.command_placeholders(resume, "agent.resume");
        }
        Some(AgentSpec {
            command,
            resume: raw
                .resume
                .map(Spanned::into_inner)
                .filter(|r| !r.trim().is_empty()),
            env,
            scrollback,
            waiting_patterns,
            hooks,
            keep_children: raw.keep_children.unwrap_or(false),
            resume_after_limit: raw.resume_after_limit.unwrap_or(false),
            budget: self.budget(raw.budget, "agent.budget").unwrap_or_default(),
            sandbox,
        })
    }

    /// A budget: money above zero, tokens above zero, at least one.
    pub(super) fn budget(
        &mut self,
        raw: Option<Spanned<crate::domain::usage::Budget>>,
        key: &str,
    ) -> Option<crate::domain::usage::Budget> {
        let raw = raw?;
        let line = self.line(raw.span());
        let budget = raw.into_inner();
        let bad = !budget.is_set()
            || budget
                .usd
                .is_some_and(|usd| !(usd > 0.0 && usd.is_finite()))
            || budget.tokens == Some(0);
        if bad {
            self.push(
                Diagnostic::error(line, key, "a budget needs `usd` or `tokens` above zero")
                    .fix("write e.g. `budget = { usd = 5.0 }` or `budget = { tokens = 2000000 }`"),
            );
            return None;
        }
        Some(budget)
    }

    pub(super) fn env(
        &mut self,
        raw: BTreeMap<Spanned<String>, Spanned<String>>,
        key: &str,
    ) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        for (name, value) in raw {
            let line = self.line(name.span());
            if !is_variable_name(name.get_ref()) {
                self.push(
                    Diagnostic::error(
                        line,
                        key,
                        format!("`{}` is not a valid variable name", name.get_ref()),
                    )
                    .fix("use letters, digits and '_', not starting with a digit"),
                );
            } else if name.get_ref().starts_with(RESERVED_PREFIX) {
                self.push(
                    Diagnostic::error(
                        line,
                        key,
                        format!("`{}` is set by sliceboard itself", name.get_ref()),
                    )
                    .fix(format!(
                        "rename it; names starting with {RESERVED_PREFIX} are reserved"
                    )),
                );
            }
            if let Err(problem) = template::check(value.get_ref(), false) {
                let line = self.line(value.span());
                self.push(
                    Diagnostic::error(line, key, format!("value of `{}` {problem}", name.get_ref()))
                        .fix("write a literal '{' as part of a longer value only where it is closed, or drop it"),
                );
            }
            env.insert(name.into_inner(), value.into_inner());
        }
        env
    }

    fn dbt(&mut self, raw: Option<super::raw::RawDbt>) -> DbtSpec {
        let (project_dir, target, schema, defer) = match raw {
            Some(d) => (d.project_dir, d.target, d.schema, d.defer),
            None => (None, None, None, None),
        };
        let defer = match defer {
            None => false,
            Some(value) => match value.get_ref().as_str() {
                "integration" => true,
                "off" => false,
                other => {
                    let line = self.line(value.span());
                    self.push(
                        Diagnostic::error(
                            line,
                            "dbt.defer",
                            format!("{other:?} is neither \"integration\" nor \"off\""),
                        )
                        .fix("use `defer = \"integration\"` (slices read what they did not change from the integration environment) or `\"off\"`"),
                    );
                    false
                }
            },
        };
        let project_dir = match project_dir {
            Some(dir) => {
                if !is_inside(Path::new(dir.get_ref())) {
                    let line = self.line(dir.span());
                    self.push(
                        Diagnostic::error(line, "dbt.project_dir", format!("`{}` points outside the worktree", dir.get_ref()))
                            .fix("give the dbt project's folder relative to the repository root, e.g. `project_dir = \"transform\"`"),
                    );
                }
                PathBuf::from(dir.into_inner())
            }
            None => PathBuf::from("."),
        };
        DbtSpec {
            project_dir,
            target: self.template(target, "dbt.target", DEFAULT_DBT_TARGET, true),
            schema: self.template(schema, "dbt.schema", DEFAULT_DBT_SCHEMA, true),
            defer,
        }
    }
}

/// The checks on the plan as a whole, once its slices are known.
impl Checker<'_> {
    /// Every slice's branch must be a valid name and must not be the base or
    /// the integration branch.
    fn branches_per_slice(&mut self, plan: &Plan) {
        if template::check(&plan.branch, true).is_err() {
            return;
        }
        let repo = repo_name(self.facts.repo_root());
        for slice in plan.workers() {
            let branch = plan.branch_for(&slice.name, &repo);
            let problem = if !self.facts.is_valid_branch_name(&branch) {
                Some(format!(
                    "gives slice `{}` the branch `{branch}`, which is not a valid git branch name",
                    slice.name
                ))
            } else if branch == plan.base || branch == plan.integration {
                Some(format!(
                    "gives slice `{}` the branch `{branch}`, which is the base or integration branch",
                    slice.name
                ))
            } else {
                None
            };
            if let Some(message) = problem {
                self.push(Diagnostic::error(None, "branch", message).fix(format!(
                    "use a template such as `branch = \"{DEFAULT_BRANCH}\"`"
                )));
            }
        }
    }

    /// After templating, no two slices share a branch, a worktree, a dbt
    /// target or a dbt schema: `a-b` and `a_b` both give `{slice_ident}`
    /// `a_b`, and case-insensitive filesystems and warehouses fold `Foo`
    /// and `foo` together.
    fn names_never_collide(&mut self, plan: &Plan) {
        let repo = repo_name(self.facts.repo_root());
        let root = self.facts.repo_root().to_owned();
        // What each slice gets, per key: the values compared.
        type ValueOf<'a> = Box<dyn Fn(&SliceName) -> String + 'a>;
        let checks: [(&str, &str, ValueOf<'_>); 4] = [
            (
                "branch",
                "branch",
                Box::new(|s| plan.branch_for(s, &repo).to_lowercase()),
            ),
            (
                "worktrees",
                "worktree",
                Box::new(|s| plan.worktree_for(s, &root).to_string_lossy().to_lowercase()),
            ),
            (
                "dbt.target",
                "dbt target",
                Box::new(|s| plan.dbt_target_for(s, &repo).to_lowercase()),
            ),
            (
                "dbt.schema",
                "dbt schema",
                Box::new(|s| plan.dbt_schema_for(s, &repo).to_lowercase()),
            ),
        ];
        let templates = [
            &plan.branch,
            &plan.worktrees,
            &plan.dbt.target,
            &plan.dbt.schema,
        ];
        for ((key, what, value_of), template_text) in checks.into_iter().zip(templates) {
            // A template without the slice in it is reported already.
            if template::check(template_text, true).is_err() {
                continue;
            }
            let mut seen: BTreeMap<String, &SliceName> = BTreeMap::new();
            for slice in plan.workers() {
                let value = value_of(&slice.name);
                match seen.get(&value) {
                    Some(first) => self.push(
                        Diagnostic::error(
                            None,
                            key,
                            format!(
                                "gives slices `{first}` and `{}` the same {what} `{value}` (letters compared without case)",
                                slice.name
                            ),
                        )
                        .fix(format!(
                            "rename one of the two slices, or template `{key}` on `{{slice}}` rather than `{{slice_ident}}`"
                        )),
                    ),
                    None => {
                        seen.insert(value, &slice.name);
                    }
                }
            }
        }
    }

    /// A prompt given as one argument (`{prompt}`) must fit one: Linux
    /// refuses an argument over 128 KiB (E2BIG) and the agent never starts.
    fn prompts_fit(&mut self, plan: &Plan) {
        const MAX_ARGUMENT: usize = 128 * 1024;
        for slice in &plan.slices {
            let command = plan.agent_command_for(slice);
            let size = slice.prompt.trim().len();
            // Quoting adds a little; keep a margin.
            if command.contains("{prompt}") && size + 1024 > MAX_ARGUMENT {
                self.push(
                    Diagnostic::error(
                        None,
                        "slice.prompt",
                        format!(
                            "of slice `{}` is {} KiB: too large for one argument (at most 128 KiB), so the agent could not start",
                            slice.name,
                            size / 1024
                        ),
                    )
                    .fix("in the agent command, pass `{prompt_file}` (a file holding the prompt) or `{brief}` instead of `{prompt}`"),
                );
            }
        }
    }

    /// Worktrees inside the repository show up as untracked files in it.
    fn worktrees_outside_repo(&mut self, plan: &Plan) {
        let root = self.facts.repo_root();
        let Some(slice) = plan.slices.first() else {
            return;
        };
        let path = plan.worktree_for(&slice.name, root);
        if path == root || path.starts_with(root) {
            self.push(
                Diagnostic::warning(None, "worktrees", format!("puts worktrees inside the repository ({})", path.display()))
                    .fix(format!("they will show as untracked files unless ignored; the default `{DEFAULT_WORKTREES}` keeps them beside it")),
            );
        }
    }
}

/// Whether a relative path stays inside the folder it is relative to.
pub(super) fn is_inside(path: &Path) -> bool {
    let mut depth: i32 = 0;
    for part in path.components() {
        match part {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}
