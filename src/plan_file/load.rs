//! From `sliceboard.toml` to a [`Plan`]: parse, check everything, merge over
//! defaults, and report every problem at once with its line and fix.
//!
//! Questions about the repository (does the base branch exist, which files
//! does it hold) go through [`RepoFacts`], so this module needs no git.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use toml::Spanned;

use super::diagnostic::{Diagnostic, PlanError, did_you_mean, line_of};
use super::raw::{RawAgent, RawPlan, RawSlice};
use crate::domain::agent_hooks::HookMode;
use crate::domain::environment::RESERVED_PREFIX;
use crate::domain::order::find_cycle;
use crate::domain::ownership::Ownership;
use crate::domain::plan::{
    AgentSpec, DEFAULT_BRANCH, DEFAULT_DBT_SCHEMA, DEFAULT_DBT_TARGET, DEFAULT_MAX_RUNNING,
    DEFAULT_SCROLLBACK, DEFAULT_WORKTREES, DbtSpec, MAX_SCROLLBACK, MergeSpec, PLANNER, Plan,
    SliceRole, SliceSpec, repo_name,
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

/// A slice's `after` entries with their lines, before they are checked
/// against the other slices.
type PendingAfter = Vec<(SliceName, Option<usize>)>;

/// Variants a slice may have: its names end `.1` to `.9`.
const MAX_VARIANTS: i64 = 9;

/// One competing variant as the plan gives it: its own agent command or
/// prompt, the slice's where left out.
#[derive(Debug, Clone, Default)]
struct Variant {
    agent: Option<String>,
    prompt: Option<String>,
}

struct Checker<'a> {
    text: &'a str,
    facts: &'a dyn RepoFacts,
    found: Vec<Diagnostic>,
    /// The base branch, once known to exist.
    existing_base: Option<String>,
}

impl Checker<'_> {
    fn line(&self, span: Range<usize>) -> Option<usize> {
        Some(line_of(self.text, span.start))
    }

    fn push(&mut self, diagnostic: Diagnostic) {
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
        let merge = raw.merge.map_or_else(MergeSpec::default, |m| MergeSpec {
            check: m
                .check
                .map(Spanned::into_inner)
                .filter(|c| !c.trim().is_empty()),
            auto: m.auto.unwrap_or(false),
            feedback: m.feedback.filter(|f| !f.trim().is_empty()),
        });
        let mut slices = self.slices(raw.slices);
        if let Some(planner) = self.planner(raw.planner, &slices) {
            slices.push(planner);
        }
        let setup = self.setup(raw.worktree);

        let plan = Plan {
            base: base?,
            integration,
            worktrees,
            branch,
            max_running,
            agent: agent?,
            dbt,
            merge,
            setup,
            slices,
        };
        self.branches_per_slice(&plan);
        self.names_never_collide(&plan);
        self.prompts_fit(&plan);
        self.worktrees_outside_repo(&plan);
        Some(plan)
    }

    /// `[worktree] setup`: non-empty shell commands.
    fn setup(&mut self, raw: Option<super::raw::RawWorktree>) -> Vec<String> {
        let commands = raw.and_then(|w| w.setup).unwrap_or_default();
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
        let raw = raw.into_inner();
        let command = match raw.command {
            Some(c) if !c.get_ref().trim().is_empty() => c.into_inner(),
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
        let hooks = match raw.hooks {
            None => HookMode::Auto,
            Some(value) => match value.get_ref().as_str() {
                "auto" => HookMode::Auto,
                "off" => HookMode::Off,
                other => {
                    let line = self.line(value.span());
                    self.push(
                        Diagnostic::error(
                            line,
                            "agent.hooks",
                            format!("{other:?} is neither \"auto\" nor \"off\""),
                        )
                        .fix("use `hooks = \"auto\"` (the default) or `hooks = \"off\"`"),
                    );
                    HookMode::Auto
                }
            },
        };
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
        })
    }

    fn env(
        &mut self,
        raw: BTreeMap<Spanned<String>, Spanned<String>>,
        key: &str,
    ) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        for (name, value) in raw {
            let line = self.line(name.span());
            let valid =
                name.get_ref().chars().enumerate().all(|(i, c)| {
                    c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())
                });
            if name.get_ref().is_empty() || !valid {
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

    fn slices(&mut self, raw: Vec<Spanned<RawSlice>>) -> Vec<SliceSpec> {
        if raw.is_empty() {
            self.push(
                Diagnostic::error(None, "slice", "the plan has no slices")
                    .fix("add a [[slice]] table with at least `name` and `owns`"),
            );
        }
        let mut slices = Vec::new();
        let mut seen: BTreeMap<String, Option<usize>> = BTreeMap::new();
        // Lines of each slice's `after` and `owns`, for the cross-slice checks.
        let mut after_lines = BTreeMap::new();
        let mut owns_lines = BTreeMap::new();
        // Each slice with variants, and the variants' names.
        let mut families: BTreeMap<SliceName, Vec<SliceName>> = BTreeMap::new();
        for spanned in raw {
            let table_line = self.line(spanned.span());
            let raw = spanned.into_inner();
            let name_line = self.line(raw.name.span());
            let key = format!("slice {:?}", raw.name.get_ref());
            let name = match SliceName::parse(raw.name.get_ref()) {
                Ok(name) => name,
                Err(problem) => {
                    self.push(
                        Diagnostic::error(name_line, format!("{key} > name"), format!("the name {problem}"))
                            .fix("slice names become branch and folder names: use letters, digits, '-', '_' and '.'"),
                    );
                    continue;
                }
            };
            if let Some(first) = seen.insert(name.to_string(), name_line) {
                let at = first.map(|l| format!(" on line {l}")).unwrap_or_default();
                self.push(
                    Diagnostic::error(
                        name_line,
                        format!("{key} > name"),
                        format!("is already used by the slice{at}"),
                    )
                    .fix("give every slice its own name"),
                );
                continue;
            }
            let owns = match raw.owns {
                Some(owns) if !owns.get_ref().is_empty() => {
                    owns_lines.insert(name.clone(), self.line(owns.span()));
                    self.owns(owns.into_inner(), &key)
                }
                other => {
                    let line = other.map(|o| self.line(o.span())).unwrap_or(table_line);
                    owns_lines.insert(name.clone(), line);
                    self.push(
                        Diagnostic::error(line, format!("{key} > owns"), "is missing or empty: a slice must own at least one path")
                            .fix("list the paths this slice may change, e.g. `owns = [\"models/staging/**\"]`"),
                    );
                    Vec::new()
                }
            };
            let mut after = Vec::new();
            for entry in raw.after {
                after_lines.insert(name.clone(), self.line(entry.span()));
                match SliceName::parse(entry.get_ref()) {
                    Ok(dep) => after.push((dep, self.line(entry.span()))),
                    Err(_) => self.push(
                        Diagnostic::error(
                            self.line(entry.span()),
                            format!("{key} > after"),
                            format!("`{}` is not a slice name", entry.get_ref()),
                        )
                        .fix("list the names of slices that must merge before this one"),
                    ),
                }
            }
            let agent = match raw.agent {
                Some(a) if a.get_ref().trim().is_empty() => {
                    let line = self.line(a.span());
                    self.push(
                        Diagnostic::error(line, format!("{key} > agent"), "is empty")
                            .fix("remove it to use [agent] command, or give a command"),
                    );
                    None
                }
                other => other.map(Spanned::into_inner),
            };
            let env = self.env(raw.env, &format!("{key} > env"));
            let logs = raw
                .logs
                .into_iter()
                .filter_map(|glob| {
                    if globset::Glob::new(glob.get_ref()).is_err() {
                        let line = self.line(glob.span());
                        self.push(
                            Diagnostic::error(line, format!("{key} > logs"), format!("`{}` is not a valid glob", glob.get_ref()))
                                .fix("use `*`, `**`, `?` and `[...]` only as globs; escape others with a backslash"),
                        );
                        return None;
                    }
                    // The Logs tab follows files of the slice's worktree,
                    // never one outside it.
                    if !is_inside(Path::new(glob.get_ref())) {
                        let line = self.line(glob.span());
                        self.push(
                            Diagnostic::error(line, format!("{key} > logs"), format!("`{}` reaches outside the worktree", glob.get_ref()))
                                .fix("use a glob relative to the worktree, without a leading `/` or `..`, e.g. `logs/*.log`"),
                        );
                        return None;
                    }
                    Some(glob.into_inner())
                })
                .collect();
            let variants = self.variants(raw.variants, &key);
            let spec = SliceSpec {
                prompt: raw.prompt.unwrap_or_default(),
                agent,
                env,
                logs,
                ..SliceSpec::new(name, owns)
            };
            if variants.is_empty() {
                slices.push((spec, after));
                continue;
            }
            // Competing variants: `name.1`, `name.2`, … each its own slice
            // (worktree, branch, agent, dbt target) owning the same paths.
            let family = spec.name.clone();
            let mut names = Vec::new();
            for (i, variant) in variants.into_iter().enumerate() {
                let Ok(variant_name) = SliceName::parse(&format!("{family}.{}", i + 1)) else {
                    self.push(
                        Diagnostic::error(
                            name_line,
                            format!("{key} > name"),
                            "is too long to add a variant number to",
                        )
                        .fix("shorten the slice's name"),
                    );
                    break;
                };
                if let Some(first) = seen.insert(variant_name.to_string(), name_line) {
                    let at = first.map(|l| format!(" on line {l}")).unwrap_or_default();
                    self.push(
                        Diagnostic::error(
                            name_line,
                            format!("{key} > variants"),
                            format!("variant `{variant_name}` has the name of the slice{at}"),
                        )
                        .fix("rename one of them"),
                    );
                    continue;
                }
                if let Some(line) = after_lines.get(&family).copied() {
                    after_lines.insert(variant_name.clone(), line);
                }
                if let Some(line) = owns_lines.get(&family).copied() {
                    owns_lines.insert(variant_name.clone(), line);
                }
                names.push(variant_name.clone());
                slices.push((
                    SliceSpec {
                        name: variant_name,
                        prompt: variant.prompt.unwrap_or_else(|| spec.prompt.clone()),
                        agent: variant.agent.or_else(|| spec.agent.clone()),
                        variant_of: Some(family.clone()),
                        ..spec.clone()
                    },
                    after.clone(),
                ));
            }
            families.insert(family, names);
        }
        self.after(&mut slices, &after_lines, &families);
        let slices: Vec<SliceSpec> = slices.into_iter().map(|(s, _)| s).collect();
        self.overlaps(&slices, &owns_lines);
        slices
    }

    /// `[planner]`: the planner agent as a slice of its own role, after the
    /// others; its name must not be taken.
    fn planner(
        &mut self,
        raw: Option<Spanned<super::raw::RawPlanner>>,
        slices: &[SliceSpec],
    ) -> Option<SliceSpec> {
        let raw = raw?;
        let line = self.line(raw.span());
        let raw = raw.into_inner();
        let command = match raw.command {
            Some(command) if !command.get_ref().trim().is_empty() => command.into_inner(),
            other => {
                let line = other.map_or(line, |c| self.line(c.span()));
                self.push(
                    Diagnostic::error(line, "planner > command", "is missing or empty")
                        .fix("give the planner agent's command, e.g. `command = \"claude {prompt}\"`; its brief (`{brief}`) tells it what to do"),
                );
                return None;
            }
        };
        if slices.iter().any(|s| s.name.as_str() == PLANNER) {
            self.push(
                Diagnostic::error(
                    line,
                    "planner",
                    format!("a slice is already named `{PLANNER}`"),
                )
                .fix("rename that slice: the planner agent goes by that name on the board"),
            );
            return None;
        }
        Some(SliceSpec {
            prompt: raw.prompt.unwrap_or_default(),
            agent: Some(command),
            role: SliceRole::Planner,
            ..SliceSpec::new(
                SliceName::parse(PLANNER).expect("a valid name"),
                vec![super::PLAN_FILE.to_owned()],
            )
        })
    }

    /// `variants = N` (2 to 9) or a list of `{ agent, prompt }` tables.
    fn variants(&mut self, raw: Option<Spanned<toml::Value>>, key: &str) -> Vec<Variant> {
        let Some(raw) = raw else {
            return Vec::new();
        };
        let line = self.line(raw.span());
        let key = format!("{key} > variants");
        let fix = "give a number of variants from 2 to 9, or a list of tables such as `[{ agent = \"codex\" }, { prompt = \"keep the old names as aliases\" }]`";
        match raw.into_inner() {
            toml::Value::Integer(count) if (2..=MAX_VARIANTS).contains(&count) => {
                vec![Variant::default(); count as usize]
            }
            toml::Value::Array(list) if (2..=MAX_VARIANTS as usize).contains(&list.len()) => {
                let mut variants = Vec::new();
                for (i, entry) in list.into_iter().enumerate() {
                    let toml::Value::Table(table) = entry else {
                        self.push(
                            Diagnostic::error(
                                line,
                                key.clone(),
                                format!("entry {} is not a table", i + 1),
                            )
                            .fix(fix),
                        );
                        return Vec::new();
                    };
                    let mut variant = Variant::default();
                    for (field, value) in table {
                        let text = match value {
                            toml::Value::String(text) if !text.trim().is_empty() => text,
                            _ => {
                                self.push(
                                    Diagnostic::error(
                                        line,
                                        key.clone(),
                                        format!(
                                            "entry {}: `{field}` must be a non-empty string",
                                            i + 1
                                        ),
                                    )
                                    .fix(fix),
                                );
                                return Vec::new();
                            }
                        };
                        match field.as_str() {
                            "agent" => variant.agent = Some(text),
                            "prompt" => variant.prompt = Some(text),
                            other => {
                                self.push(
                                    Diagnostic::error(
                                        line,
                                        key.clone(),
                                        format!("entry {}: unknown key `{other}`", i + 1),
                                    )
                                    .fix("a variant sets `agent`, `prompt` or both"),
                                );
                                return Vec::new();
                            }
                        }
                    }
                    variants.push(variant);
                }
                variants
            }
            _ => {
                self.push(
                    Diagnostic::error(
                        line,
                        key,
                        "must be a number from 2 to 9 or a list of 2 to 9 tables",
                    )
                    .fix(fix),
                );
                Vec::new()
            }
        }
    }

    fn owns(&mut self, globs: Vec<Spanned<String>>, key: &str) -> Vec<String> {
        let mut owns = Vec::new();
        for glob in globs {
            let line = self.line(glob.span());
            let raw = glob.get_ref();
            let problem = if raw.trim().is_empty() {
                Some(("is empty", "remove it".to_owned()))
            } else if let Some(rest) = raw.strip_prefix('/') {
                Some((
                    "starts with '/'",
                    format!("globs are relative to the repository root: write `{rest}`"),
                ))
            } else if raw.split('/').any(|part| part == "..") {
                Some((
                    "leaves the repository with '..'",
                    "name paths inside the repository".to_owned(),
                ))
            } else {
                None
            };
            if let Some((what, fix)) = problem {
                self.push(
                    Diagnostic::error(
                        line,
                        format!("{key} > owns"),
                        format!("glob `{raw}` {what}"),
                    )
                    .fix(fix),
                );
                continue;
            }
            let name = SliceName::parse("check").expect("a valid name");
            if let Err(err) = Ownership::new([(&name, std::slice::from_ref(glob.get_ref()))]) {
                self.push(
                    Diagnostic::error(line, format!("{key} > owns"), format!("glob `{raw}` is not valid: {}", err.reason))
                        .fix("use `*` within a folder, `**` across folders, `?`, `[...]`, or end with '/' for a whole folder"),
                );
                continue;
            }
            owns.push(glob.into_inner());
        }
        owns
    }

    fn after(
        &mut self,
        slices: &mut [(SliceSpec, PendingAfter)],
        after_lines: &BTreeMap<SliceName, Option<usize>>,
        families: &BTreeMap<SliceName, Vec<SliceName>>,
    ) {
        let names: BTreeSet<SliceName> = slices.iter().map(|(s, _)| s.name.clone()).collect();
        let mut complete = true;
        for (slice, after) in slices.iter_mut() {
            for (dep, line) in after.drain(..) {
                if names.contains(&dep) {
                    slice.after.push(dep);
                    continue;
                }
                // After a slice with variants: after each of them (the one
                // picked merges; the others, retired, stop holding it up).
                if let Some(variants) = families.get(&dep) {
                    slice.after.extend(variants.iter().cloned());
                    continue;
                }
                complete = false;
                let others: Vec<&str> = names
                    .iter()
                    .filter(|n| **n != slice.name)
                    .map(SliceName::as_str)
                    .collect();
                let fix = match did_you_mean(dep.as_str(), others.iter().copied()) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None if others.is_empty() => "remove it: there are no other slices".to_owned(),
                    None => format!("name one of: {}", others.join(", ")),
                };
                self.push(
                    Diagnostic::error(
                        line,
                        format!("slice {:?} > after", slice.name.as_str()),
                        format!("names slice `{dep}`, which is not in the plan"),
                    )
                    .fix(fix),
                );
            }
        }
        if !complete {
            return;
        }
        let graph: Vec<(&SliceName, &[SliceName])> = slices
            .iter()
            .map(|(s, _)| (&s.name, s.after.as_slice()))
            .collect();
        if let Some(cycle) = find_cycle(&graph) {
            let path: Vec<&str> = cycle.iter().map(SliceName::as_str).collect();
            let line = after_lines.get(&cycle[0]).copied().flatten();
            self.push(
                Diagnostic::error(
                    line,
                    format!("slice {:?} > after", cycle[0].as_str()),
                    format!("forms a cycle: {}", path.join(" -> ")),
                )
                .fix("slices in a cycle can never merge: remove one of these `after` entries"),
            );
        }
    }

    fn overlaps(&mut self, slices: &[SliceSpec], owns_lines: &BTreeMap<SliceName, Option<usize>>) {
        let owned: Vec<(&SliceName, &[String])> = slices
            .iter()
            .filter(|s| !s.owns.is_empty())
            .map(|s| (&s.name, s.owns.as_slice()))
            .collect();
        let Ok(ownership) = Ownership::new(owned.iter().copied()) else {
            return;
        };
        let ownership = ownership.with_families(
            slices
                .iter()
                .filter_map(|s| Some((s.name.clone(), s.variant_of.clone()?))),
        );
        // Real files at the base catch overlaps the globs alone cannot show.
        let files = match &self.existing_base {
            Some(base) => self.facts.files_at(base),
            None => Vec::new(),
        };
        if self.existing_base.is_some() {
            self.unmatched_globs(slices, &files, owns_lines);
        }
        for overlap in ownership.overlaps(files.iter().map(String::as_str)) {
            let mut evidence = Vec::new();
            for (a, b) in &overlap.globs {
                if a == b {
                    evidence.push(format!("both list `{a}`"));
                } else {
                    evidence.push(format!(
                        "`{a}` ({}) and `{b}` ({}) match the same paths",
                        overlap.first, overlap.second
                    ));
                }
            }
            if !overlap.paths.is_empty() {
                let more = match overlap.more_paths {
                    0 => String::new(),
                    n => format!(" and {n} more"),
                };
                evidence.push(format!("both own {}{more}", overlap.paths.join(", ")));
            }
            let line = owns_lines.get(&overlap.second).copied().flatten();
            self.push(
                Diagnostic::error(
                    line,
                    format!("slice {:?} > owns", overlap.second.as_str()),
                    format!("overlaps slice `{}`: {}", overlap.first, evidence.join("; ")),
                )
                .fix("every path must belong to one slice: narrow one slice's globs or move the shared paths to one of them"),
            );
        }
    }
}

impl Checker<'_> {
    /// Warns about globs that match no file at the base: often a typo, but
    /// fine for a slice that will create the files.
    fn unmatched_globs(
        &mut self,
        slices: &[SliceSpec],
        files: &[String],
        owns_lines: &BTreeMap<SliceName, Option<usize>>,
    ) {
        let base = self.existing_base.clone().unwrap_or_default();
        for slice in slices {
            for glob in &slice.owns {
                let Ok(ownership) = Ownership::new([(&slice.name, std::slice::from_ref(glob))])
                else {
                    continue;
                };
                if files.iter().any(|f| !ownership.owners(f).is_empty()) {
                    continue;
                }
                let line = owns_lines.get(&slice.name).copied().flatten();
                self.push(
                    Diagnostic::warning(
                        line,
                        format!("slice {:?} > owns", slice.name.as_str()),
                        format!("glob `{glob}` matches no file on `{base}`"),
                    )
                    .fix("fine if this slice creates those files; otherwise check the spelling"),
                );
            }
        }
    }

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
fn is_inside(path: &Path) -> bool {
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
