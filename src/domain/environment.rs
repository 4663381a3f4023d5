//! Everything a slice's agent is told: its environment variables and its
//! brief. Computed here, in one place, so `sliceboard env`, the agent
//! sessions and the docs can never disagree.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::plan::{Plan, SliceSpec, repo_name};
use super::template::{self, TemplateVars};

/// Prefix of the variables sliceboard owns; the plan may not set these.
pub const RESERVED_PREFIX: &str = "SLICEBOARD_";

/// An environment variable's name: letters, digits and `_`, not starting
/// with a digit.
pub fn is_variable_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()))
}

/// The slice whose environment (dbt target and schema) merge checks run in.
pub const INTEGRATION_SLICE: &str = "integration";

/// The environment a merge check runs in: that of a slice named
/// [`INTEGRATION_SLICE`] (so its own dbt target and schema, e.g.
/// `dev_integration`), with the integration worktree's paths, and
/// `SLICEBOARD_MERGING` naming the slice being merged.
pub fn integration_env(
    plan: &Plan,
    repo_root: &Path,
    worktree: &Path,
    merging: &super::slice::SliceName,
) -> Vec<(String, String)> {
    let Ok(name) = super::slice::SliceName::parse(INTEGRATION_SLICE) else {
        return Vec::new();
    };
    let spec = SliceSpec::new(name, Vec::new());
    let context = SliceContext {
        plan,
        slice: &spec,
        repo_root,
        brief_path: Path::new(""),
    };
    let mut env = context.env();
    let project_dir = super::plan::normalize(&worktree.join(&plan.dbt.project_dir));
    for (key, value) in &mut env {
        match key.as_str() {
            "SLICEBOARD_BRANCH" => value.clone_from(&plan.integration),
            "SLICEBOARD_WORKTREE" => *value = path_string(worktree),
            "SLICEBOARD_DBT_PROJECT_DIR" => *value = path_string(&project_dir),
            _ => {}
        }
    }
    env.retain(|(k, _)| k != "SLICEBOARD_BRIEF" && k != "SLICEBOARD_OWNS");
    env.push(("SLICEBOARD_MERGING".into(), merging.to_string()));
    env
}

/// Where one slice lives, resolved against a repository.
#[derive(Debug, Clone)]
pub struct SliceContext<'a> {
    pub plan: &'a Plan,
    pub slice: &'a SliceSpec,
    /// The main worktree's root, where `sliceboard.toml` lives.
    pub repo_root: &'a Path,
    pub brief_path: &'a Path,
}

impl SliceContext<'_> {
    pub fn repo(&self) -> String {
        repo_name(self.repo_root)
    }

    pub fn branch(&self) -> String {
        self.plan.branch_for(&self.slice.name, &self.repo())
    }

    pub fn worktree(&self) -> PathBuf {
        self.plan.worktree_for(&self.slice.name, self.repo_root)
    }

    pub fn dbt_target(&self) -> String {
        self.plan.dbt_target_for(&self.slice.name, &self.repo())
    }

    pub fn dbt_schema(&self) -> String {
        self.plan.dbt_schema_for(&self.slice.name, &self.repo())
    }

    pub fn dbt_project_dir(&self) -> PathBuf {
        super::plan::normalize(&self.worktree().join(&self.plan.dbt.project_dir))
    }

    /// The slice's environment, in a stable order: the plan's `[agent] env`,
    /// then the slice's `env` (which wins), then sliceboard's own variables.
    /// Values of the plan's variables may use `{slice}`, `{slice_ident}` and
    /// `{repo}`.
    pub fn env(&self) -> Vec<(String, String)> {
        let repo = self.repo();
        let vars = TemplateVars {
            slice: &self.slice.name,
            repo: &repo,
        };
        let mut env: Vec<(String, String)> = Vec::new();
        let mut set = |key: &str, value: String| {
            env.retain(|(k, _)| k != key);
            env.push((key.to_owned(), value));
        };
        for (key, value) in self.plan.agent.env.iter().chain(&self.slice.env) {
            set(key, template::expand(value, vars));
        }
        let target = self.dbt_target();
        set("SLICEBOARD_SLICE", self.slice.name.to_string());
        set("SLICEBOARD_BRANCH", self.branch());
        set("SLICEBOARD_WORKTREE", path_string(&self.worktree()));
        set("SLICEBOARD_REPO", path_string(self.repo_root));
        set("SLICEBOARD_BASE", self.plan.base.clone());
        set("SLICEBOARD_OWNS", self.slice.owns.join("\n"));
        set("SLICEBOARD_BRIEF", path_string(self.brief_path));
        set(
            "SLICEBOARD_DBT_PROJECT_DIR",
            path_string(&self.dbt_project_dir()),
        );
        set("SLICEBOARD_DBT_TARGET", target);
        set("SLICEBOARD_DBT_SCHEMA", self.dbt_schema());
        // dbt's own log file as JSON lines (stdout stays text), so the
        // dashboard reads each node's result as it happens. DBT_TARGET is
        // deliberately not set: it would make dbt look for an output named
        // after the slice in the user's profiles.yml. Profiles read the two
        // variables above instead (docs/dbt.md).
        // Offline-friendly unless the plan says otherwise: no usage
        // tracking, so an offline run does not end with dbt's "error while
        // trying to flush usage events".
        for (key, value) in [
            ("DBT_LOG_FORMAT_FILE", "json"),
            ("DO_NOT_TRACK", "1"),
            ("DBT_SEND_ANONYMOUS_USAGE_STATS", "false"),
        ] {
            if !env.iter().any(|(k, _)| k == key) {
                env.push((key.to_owned(), value.to_owned()));
            }
        }
        env
    }

    /// The shell command that starts (or, with `resume`, restarts) the
    /// slice's agent: the slice's own command or the plan's, with
    /// `{prompt}` shell-quoted, `{brief}` the brief's path and
    /// `{prompt_file}` the prompt file's path, quoted too, and `{slice}`,
    /// `{slice_ident}` and `{repo}` as in every other template.
    pub fn agent_command(&self, resume: bool) -> String {
        let template = match (resume, &self.plan.agent.resume) {
            (true, Some(resume)) => resume,
            _ => self
                .slice
                .agent
                .as_ref()
                .unwrap_or(&self.plan.agent.command),
        };
        let quote = super::template::shell_quote;
        let repo = self.repo();
        let vars = TemplateVars {
            slice: &self.slice.name,
            repo: &repo,
        };
        template::expand_command(
            template,
            vars,
            &[
                ("prompt_file", quote(&path_string(&self.prompt_path()))),
                ("prompt", quote(self.slice.prompt.trim())),
                ("brief", quote(&path_string(self.brief_path))),
            ],
        )
    }

    /// The file holding the slice's prompt alone, beside its brief: for
    /// `{prompt_file}`, when a prompt is too large for one argument.
    pub fn prompt_path(&self) -> std::path::PathBuf {
        self.brief_path.with_file_name("prompt.md")
    }

    /// The markdown brief handed to the agent.
    pub fn brief(&self) -> String {
        if self.slice.role == super::plan::SliceRole::Planner {
            return self.planner_brief();
        }
        let mut out = String::new();
        let name = &self.slice.name;
        let _ = writeln!(out, "# Slice `{name}`\n");
        let _ = writeln!(
            out,
            "You are one of {} agents working in parallel on one refactor. Each agent owns a \
             separate slice of the repository and works in its own git worktree and branch.\n",
            self.plan.slices.len()
        );
        let _ = writeln!(out, "- Worktree: `{}`", self.worktree().display());
        let _ = writeln!(
            out,
            "- Branch: `{}` (started from `{}`)",
            self.branch(),
            self.plan.base
        );
        let _ = writeln!(
            out,
            "- dbt: target `{}`, schema `{}`, project in `{}` (exported as `SLICEBOARD_DBT_TARGET` and `SLICEBOARD_DBT_SCHEMA`; the profile reads them)",
            self.dbt_target(),
            self.dbt_schema(),
            self.dbt_project_dir().display()
        );
        if !self.slice.after.is_empty() {
            let after: Vec<String> = self.slice.after.iter().map(|s| format!("`{s}`")).collect();
            let _ = writeln!(out, "- Merges after: {}", after.join(", "));
        }
        let _ = writeln!(out, "\n## What you own\n");
        let _ = writeln!(
            out,
            "Change only paths matched by these globs (relative to the repository root):\n"
        );
        for glob in &self.slice.owns {
            let _ = writeln!(out, "- `{glob}`");
        }
        let others: Vec<&SliceSpec> = self
            .plan
            .slices
            .iter()
            .filter(|s| s.name != self.slice.name)
            .collect();
        if !others.is_empty() {
            let _ = writeln!(out, "\n## What you must not touch\n");
            let _ = writeln!(
                out,
                "Other slices own these paths; leave them alone even if they look wrong. If your \
                 work needs a change there, stop and say so.\n"
            );
            for other in others {
                let globs: Vec<String> = other.owns.iter().map(|g| format!("`{g}`")).collect();
                let _ = writeln!(out, "- `{}`: {}", other.name, globs.join(", "));
            }
        }
        let _ = writeln!(out, "\n## Your task\n");
        let prompt = self.slice.prompt.trim();
        if prompt.is_empty() {
            let _ = writeln!(out, "(The plan gives no prompt for this slice.)");
        } else {
            let _ = writeln!(out, "{prompt}");
        }
        let _ = writeln!(out, "\n## When you need the operator\n");
        let _ = writeln!(
            out,
            "Run `sliceboard signal waiting` before asking a question and `sliceboard signal done` \
             when the slice is finished and committed, so the operator sees it on the board \
             (`\"$SLICEBOARD_BIN\" signal done` where `sliceboard` is not on your PATH). Commit \
             your work on `{}`; do not merge or push other branches.",
            self.branch()
        );
        out
    }
}

impl SliceContext<'_> {
    /// The planner's brief: its job (the plan), the plan's format, the
    /// slices planned now. The command line appends what it knows of the
    /// dbt DAG.
    fn planner_brief(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Planner\n");
        let _ = writeln!(
            out,
            "You plan a refactor that sliceboard runs as parallel slices: each slice gets its own \
             git worktree and branch, its own coding agent and its own dbt target, and its \
             branch merges in a known order once the operator approves it. You work in the \
             repository itself (`{}`). Your job is the plan: write `sliceboard.toml` at the \
             repository root. Do not change other files; the slices' agents do the work.\n",
            self.worktree().display()
        );
        let _ = writeln!(out, "## How your plan is used\n");
        let _ = writeln!(
            out,
            "- The operator's board reads `sliceboard.toml` again every time you save it. A plan \
             that does not pass its checks shows its error (file, line, key) and changes nothing; \
             run `sliceboard check` (`\"$SLICEBOARD_BIN\" check`) to see the same errors.\n\
             - New slices appear as planned; the operator creates their worktrees and starts \
             their agents.\n\
             - When every slice has merged (or when the operator asks) you get the aggregate \
             result as a prompt: what merged with its commits, the integration check's outcome, \
             open ownership flags, slices that failed. Review it, and say what to fix next.\n"
        );
        let _ = writeln!(out, "## The plan's format\n");
        let _ = writeln!(
            out,
            "```toml\n\
             base = \"{base}\"                   # the branch every slice starts from\n\
             \n\
             [[slice]]\n\
             name = \"staging\"                # letters, digits, '.', '_', '-'\n\
             owns = [\"models/staging/**\"]    # globs; no two slices may own the same path\n\
             prompt = \"What this slice's agent must do, in full.\"\n\
             \n\
             [[slice]]\n\
             name = \"marts\"\n\
             owns = [\"models/marts/**\"]\n\
             after = [\"staging\"]             # slices that must merge first (no cycles)\n\
             prompt = \"...\"\n\
             # agent = \"codex {{prompt}}\"     # this slice's own agent command\n\
             # variants = 3                   # competing attempts; the operator picks one\n\
             ```\n",
            base = self.plan.base
        );
        let _ = writeln!(
            out,
            "Keep the settings above the first `[[slice]]` as they are (the agent command, dbt, \
             merge check): the operator chose them. Give every slice an `owns` that covers the \
             files it changes and nothing another slice owns, and an `after` for every slice \
             whose work it builds on.\n"
        );
        let workers: Vec<&SliceSpec> = self.plan.workers().collect();
        let _ = writeln!(out, "## The slices planned now\n");
        if workers.is_empty() {
            let _ = writeln!(out, "None yet.");
        }
        for slice in workers {
            let owns: Vec<String> = slice.owns.iter().map(|g| format!("`{g}`")).collect();
            let after = if slice.after.is_empty() {
                String::new()
            } else {
                let after: Vec<String> = slice.after.iter().map(|s| format!("`{s}`")).collect();
                format!(", after {}", after.join(", "))
            };
            let _ = writeln!(out, "- `{}`: {}{after}", slice.name, owns.join(", "));
        }
        let prompt = self.slice.prompt.trim();
        if !prompt.is_empty() {
            let _ = writeln!(out, "\n## The refactor\n\n{prompt}");
        }
        out
    }
}

fn path_string(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::domain::plan::{AgentSpec, DbtSpec, MergeSpec};
    use crate::domain::slice::SliceName;

    fn plan() -> Plan {
        let slice = |name: &str, owns: &[&str]| SliceSpec {
            name: SliceName::parse(name).unwrap(),
            owns: owns.iter().map(|s| s.to_string()).collect(),
            prompt: format!("Migrate {name}."),
            agent: None,
            env: BTreeMap::from([("SHARED".into(), "slice-{slice}".into())]),
            after: Vec::new(),
            logs: Vec::new(),
            variant_of: None,
            role: Default::default(),
            budget: None,
            sandbox: None,
            network: None,
        };
        Plan {
            base: "main".into(),
            integration: "main".into(),
            worktrees: "../{repo}.slices/{slice}".into(),
            branch: "slice/{slice}".into(),
            max_running: 2,
            agent: AgentSpec {
                command: "claude".into(),
                resume: None,
                env: BTreeMap::from([
                    ("SHARED".into(), "plan".into()),
                    ("ONLY_PLAN".into(), "1".into()),
                ]),
                scrollback: 1000,
                waiting_patterns: None,
                hooks: Default::default(),
                keep_children: false,
                resume_after_limit: false,
                budget: Default::default(),
                sandbox: Default::default(),
            },
            dbt: DbtSpec {
                project_dir: "dbt".into(),
                target: "dev_{slice_ident}".into(),
                schema: "dbt_{slice_ident}".into(),
                defer: false,
            },
            merge: MergeSpec::default(),
            notify: Default::default(),
            forge: Default::default(),
            setup: Vec::new(),
            teardown: Vec::new(),
            ports: Vec::new(),
            slices: vec![
                slice("staging-a", &["models/staging/**"]),
                slice("marts", &["models/marts/**"]),
            ],
        }
    }

    #[test]
    fn env_resolves_paths_templates_and_precedence() {
        let plan = plan();
        let ctx = SliceContext {
            plan: &plan,
            slice: &plan.slices[0],
            repo_root: Path::new("/w/shop"),
            brief_path: Path::new("/w/shop/.git/sliceboard/slices/staging-a/brief.md"),
        };
        let env: BTreeMap<String, String> = ctx.env().into_iter().collect();
        assert_eq!(env["SLICEBOARD_WORKTREE"], "/w/shop.slices/staging-a");
        assert_eq!(env["SLICEBOARD_BRANCH"], "slice/staging-a");
        assert_eq!(env["SLICEBOARD_DBT_TARGET"], "dev_staging_a");
        assert_eq!(env["DBT_LOG_FORMAT_FILE"], "json");
        assert!(!env.contains_key("DBT_TARGET"));
        assert_eq!(env["SLICEBOARD_DBT_SCHEMA"], "dbt_staging_a");
        assert_eq!(
            env["SLICEBOARD_DBT_PROJECT_DIR"],
            "/w/shop.slices/staging-a/dbt"
        );
        assert_eq!(env["SHARED"], "slice-staging-a");
        assert_eq!(env["ONLY_PLAN"], "1");
    }

    #[test]
    fn agent_command_quotes_the_prompt_and_brief() {
        let mut plan = plan();
        plan.agent.command = "agent --brief {brief} {prompt}".into();
        plan.agent.resume = Some("agent --continue".into());
        let ctx = SliceContext {
            plan: &plan,
            slice: &plan.slices[1],
            repo_root: Path::new("/w/shop"),
            brief_path: Path::new("/w/my brief.md"),
        };
        assert_eq!(
            ctx.agent_command(false),
            "agent --brief '/w/my brief.md' 'Migrate marts.'"
        );
        assert_eq!(ctx.agent_command(true), "agent --continue");
    }

    #[test]
    fn brief_names_owned_and_forbidden_paths() {
        let plan = plan();
        let ctx = SliceContext {
            plan: &plan,
            slice: &plan.slices[1],
            repo_root: Path::new("/w/shop"),
            brief_path: Path::new("/b.md"),
        };
        let brief = ctx.brief();
        assert!(brief.contains("- `models/marts/**`"), "{brief}");
        assert!(
            brief.contains("- `staging-a`: `models/staging/**`"),
            "{brief}"
        );
        assert!(brief.contains("Migrate marts."), "{brief}");
        assert!(brief.contains("target `dev_marts`"), "{brief}");
    }
}
