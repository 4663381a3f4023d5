//! The command line as typed: clap's raw flags and subcommands. Resolving
//! them into work happens in the sibling modules.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};

/// The version with the commit and the day it was built.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("SLICEBOARD_COMMIT"),
    ", built ",
    env!("SLICEBOARD_BUILD_DATE"),
    ")"
);

/// The plan's slices, for the shell's completion of a SLICE argument:
/// read from the plan where the shell is, none when there is no plan.
fn slice_names() -> Vec<CompletionCandidate> {
    let Ok(dir) = std::env::current_dir() else {
        return Vec::new();
    };
    crate::workspace::Workspace::open(&dir)
        .map(|ws| {
            ws.plan
                .slices
                .iter()
                .map(|s| CompletionCandidate::new(s.name.as_str()))
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Debug, Parser)]
#[command(
    name = "sliceboard",
    version = VERSION,
    about = "Supervise a large refactor split into parallel slices: one git worktree, branch, agent and dbt target per slice.",
    after_help = "Start with `sliceboard init` in your repository, edit sliceboard.toml, then `sliceboard check` and `sliceboard up`."
)]
pub struct Args {
    /// Run as if started in DIR.
    #[arg(short = 'C', value_name = "DIR", global = true)]
    pub dir: Option<PathBuf>,

    /// Open the dashboard on the supervisor of a repository on another
    /// machine, over `ssh HOST sliceboard -C PATH proxy` (no port opened).
    #[arg(long, value_name = "HOST[:PATH]")]
    pub remote: Option<String>,

    #[command(subcommand)]
    pub command: Option<CommandArgs>,
}

#[derive(Debug, Subcommand)]
pub enum CommandArgs {
    /// Write a commented starter sliceboard.toml at the repository root.
    Init {
        /// Overwrite an existing plan.
        #[arg(long)]
        force: bool,
        /// The dbt project's folder, from the repository root (default:
        /// the one dbt_project.yml in the repository; asked when several).
        #[arg(long, value_name = "DIR")]
        project_dir: Option<String>,
        /// The base branch (default: the branch checked out now).
        #[arg(long)]
        base: Option<String>,
    },
    /// Propose a plan: from the dbt project's manifest with --from-dbt
    /// (slices by model folder or by the DAG, `after` from the refs between
    /// them; runs `dbt parse` when the manifest is stale), otherwise from
    /// the repository's folders as `init` proposes them (those under a dbt
    /// project's models/, else the top-level ones). The files no slice owns
    /// are listed with what to do.
    Plan {
        /// Read the dbt project's models and refs.
        #[arg(long)]
        from_dbt: bool,
        /// About how many slices (folders are split, or merged, to get
        /// there; a folder with no subfolders is cut into file lists).
        /// Default: 4 with --from-dbt; otherwise one per folder, as `init`
        /// proposes (at most 8, the smallest merged).
        #[arg(long)]
        slices: Option<usize>,
        /// Group by folder, or by the DAG (contiguous runs of models by
        /// depth, cut where few refs cross; --from-dbt only).
        #[arg(long, value_parser = ["folder", "dag"], default_value = "folder")]
        by: String,
        /// The dbt project's folder, from the repository root (default: the
        /// plan's [dbt] project_dir, else the one dbt_project.yml in the
        /// repository; asked when several).
        #[arg(long, value_name = "DIR")]
        project_dir: Option<String>,
        /// Print how good both groupings are (refs crossing slices, the
        /// largest slice against the mean, files no slice owns by kind,
        /// shared YAML) instead of a plan; --from-dbt only.
        #[arg(long)]
        explain: bool,
        /// Print the plan instead of writing sliceboard.toml.
        #[arg(long)]
        dry_run: bool,
        /// Print the proposal as JSON (slices, notes, unowned files).
        #[arg(long)]
        json: bool,
        /// Replace an existing sliceboard.toml.
        #[arg(long)]
        force: bool,
        /// The base branch (default: the branch checked out now).
        #[arg(long)]
        base: Option<String>,
    },
    /// Validate the plan and print it resolved (branches, worktrees, dbt targets, merge order).
    Check {
        /// Print the resolved plan as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create the missing worktrees and branches (all slices, or the ones named).
    Up {
        /// Slices to create; all when none are named.
        #[arg(value_name = "SLICE", add = ArgValueCandidates::new(slice_names))]
        slices: Vec<String>,
        /// Then restart, with the resume command, every agent (of these
        /// slices) whose run was cut off: one a supervisor never saw end
        /// (a reboot, a killed supervisor) or one ended by a signal.
        #[arg(long)]
        resume: bool,
    },
    /// Run the plan's `[worktree] setup` in a slice's worktree again (it
    /// runs by itself after `up` creates the worktree); its agent starts
    /// only once the setup passed.
    Setup {
        /// The slice (a name from the plan; the shell completes it).
        #[arg(value_name = "SLICE", add = ArgValueCandidates::new(slice_names))]
        slice: String,
        /// Let the agent start without a passing setup.
        #[arg(long)]
        skip: bool,
    },
    /// Build the environment slices defer to (`[dbt] defer`) now, before
    /// anything merged: `[merge] check` in the integration worktree at the
    /// integration tip, then its dbt manifest and DuckDB files published.
    DbtState,
    /// Remove a slice's worktree (the branch is kept).
    Down {
        /// The slice (a name from the plan; the shell completes it).
        #[arg(value_name = "SLICE", add = ArgValueCandidates::new(slice_names))]
        slice: String,
        /// Remove even with uncommitted changes (they are lost) or commits
        /// not yet merged (the branch keeps them).
        #[arg(long)]
        force: bool,
    },
    /// One line per slice: its state, its agent, branch, commits ahead, dirty or clean, diff size, dbt result and merge state; then warnings (ownership, overlaps, drift).
    ///
    /// STATE is the slice's lifecycle (planned, ready, active, approved,
    /// merged, cleaned…). AGENT is the board's word for its agent (`busy`,
    /// `~busy` when guessed from its screen, `waiting`, `done`, `exited(1)`,
    /// `-` when none ran), read from the supervisor when one runs. AHEAD
    /// counts commits on its branch not in its base; WORKTREE is `clean`,
    /// `dirty` or `missing`; DIFF the files and lines changed against the
    /// merge base; DBT its last run's outcome with counts; MERGE where it
    /// stands in the queue. Lines starting with `!` are warnings: paths
    /// changed outside the slice or by two slices, a dbt run made outside
    /// the slice's environment, a worktree that drifted from its record.
    Status {
        /// Print JSON for scripts (fields documented in docs/status-json.md).
        #[arg(long)]
        json: bool,
    },
    /// Print a slice's environment as shell `export` lines: eval "$(sliceboard env SLICE)".
    Env {
        /// The slice (default: $SLICEBOARD_SLICE).
        #[arg(value_name = "SLICE", add = ArgValueCandidates::new(slice_names))]
        slice: Option<String>,
        /// Print a JSON object instead.
        #[arg(long)]
        json: bool,
    },
    /// Print a slice's worktree path: cd "$(sliceboard path SLICE)".
    Path {
        /// The slice.
        #[arg(value_name = "SLICE", add = ArgValueCandidates::new(slice_names))]
        slice: String,
    },
    /// A shell in a slice's worktree with the slice's environment (its dbt
    /// target and schema, `SLICEBOARD_*`), or COMMAND there instead.
    Shell {
        /// The slice.
        #[arg(value_name = "SLICE", add = ArgValueCandidates::new(slice_names))]
        slice: String,
        /// Run it inside the slice's sandbox, as its agent runs (what the
        /// agent sees, may write and reach).
        #[arg(long)]
        sandbox: bool,
        /// Run this instead of `$SHELL`, e.g. `-- dbt build -s my_model`.
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// Report this agent's activity to the running supervisor, or with
    /// `usage` what it used (added to the slice's); meant for agent hooks
    /// and wrappers (see docs/agent-hooks.md). Exits 0 when no supervisor
    /// runs.
    Signal {
        #[arg(value_parser = ["busy", "waiting", "idle", "done", "usage"])]
        activity: String,
        /// The slice (default: $SLICEBOARD_SLICE, set in every agent's environment).
        #[arg(long, value_name = "SLICE", add = ArgValueCandidates::new(slice_names))]
        slice: Option<String>,
        /// With `usage`: input tokens (not read from a cache).
        #[arg(long, value_name = "N", default_value_t = 0)]
        input: u64,
        /// With `usage`: output tokens.
        #[arg(long, value_name = "N", default_value_t = 0)]
        output: u64,
        /// With `usage`: input tokens written to the prompt cache.
        #[arg(long, value_name = "N", default_value_t = 0)]
        cache_write: u64,
        /// With `usage`: input tokens read from the prompt cache.
        #[arg(long, value_name = "N", default_value_t = 0)]
        cache_read: u64,
        /// With `usage`: what it cost, US dollars (used as it is, never
        /// estimated).
        #[arg(long, value_name = "USD")]
        cost: Option<f64>,
        /// With `usage`: the model, for the price table's estimate.
        #[arg(long, value_name = "MODEL")]
        model: Option<String>,
    },
    /// Run as an agent's hook: read its event (stdin for Claude Code, the
    /// argument for Codex) and report the activity it means. Added to
    /// Claude Code, Codex and aider by itself (docs/agent-hooks.md);
    /// always exits 0 and prints nothing on stdout.
    Hook {
        #[arg(value_parser = ["claude", "codex", "aider"])]
        agent: String,
        /// The event as JSON, when the agent passes it as an argument.
        payload: Option<String>,
    },
    /// Open the dashboard (the same as no command): attach to the
    /// repository's supervisor, starting it in the background if none runs.
    Attach {
        /// A supervisor on another machine, over ssh: HOST or HOST:PATH.
        #[arg(long, value_name = "HOST[:PATH]")]
        remote: Option<String>,
    },
    /// Stop every agent (SIGTERM, then SIGKILL to each process group) and
    /// the repository's supervisor.
    Stop,
    /// Bridge stdin and stdout to the repository's supervisor, starting it
    /// if none runs; what `--remote` runs over ssh.
    Proxy,
    /// Run the supervisor in the foreground (the dashboard starts it in
    /// the background by itself).
    #[command(hide = true)]
    Supervise,
    /// Approve a slice's branch at its current commit for the merge queue.
    /// Refused, with the reasons, when it has ownership or overlap flags,
    /// a failed or outdated dbt run, or unmerged slices it comes after.
    Approve {
        /// The slice (a name from the plan; the shell completes it).
        #[arg(value_name = "SLICE", add = ArgValueCandidates::new(slice_names))]
        slice: String,
        /// Approve despite the reasons.
        #[arg(long)]
        force: bool,
    },
    /// Kill a slice's agent (SIGTERM to its process group, SIGKILL after
    /// the grace period), or end the agent group a previous supervisor
    /// left running in its worktree; waits until it is gone.
    Kill { slice: String },
    /// Withdraw a slice's approval; it leaves the merge queue.
    Withdraw { slice: String },
    /// Raise a slice's budget by its own size again (`budget` in the plan);
    /// an agent paused for it goes on. The dashboard's `$` does the same.
    RaiseBudget {
        #[arg(value_name = "SLICE", add = ArgValueCandidates::new(slice_names))]
        slice: String,
    },
    /// Print the merge queue: order, each slice's state, conflicts.
    Queue {
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
        /// Hold the queue: nothing is approved, told or merged by itself
        /// (`[merge] approve`, `on_failure`, `auto`) until `--release`; the
        /// operator's commands still work.
        #[arg(long, conflicts_with = "release")]
        hold: bool,
        /// Let a held queue go on.
        #[arg(long)]
        release: bool,
    },
    /// Merge the queue's first ready slice (or SLICE, or every ready
    /// slice in order) into the integration branch, after the check passes.
    Merge {
        /// The slice to merge (default: the queue's first ready one).
        #[arg(value_name = "SLICE", add = ArgValueCandidates::new(slice_names))]
        slice: Option<String>,
        /// Every ready slice, in queue order, until one fails.
        #[arg(long)]
        all: bool,
        /// Say what would happen; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Remove a merged slice's worktree, and its branch once the
    /// integration branch holds every commit of it.
    ///
    /// A branch with commits the integration branch lacks is never
    /// deleted: with --force it is renamed to sliceboard/cleaned/SLICE
    /// and its commits stay there.
    Clean {
        /// The slice (a name from the plan; the shell completes it).
        #[arg(value_name = "SLICE", add = ArgValueCandidates::new(slice_names))]
        slice: String,
        /// Clean it even though it is not (all) merged: uncommitted changes
        /// in the worktree are lost; commits not in the integration branch
        /// are kept on branch sliceboard/cleaned/SLICE.
        #[arg(long)]
        force: bool,
    },
    /// Tell a slice's agent what the merge queue found (a conflict, a
    /// failed check, an upstream merge), starting it if it is not running.
    Feedback { slice: String },
    /// Send a prompt to one or more slices' agents, as a paste and Enter
    /// (an agent that is not running is started with the resume command
    /// first); journaled. `sliceboard send staging marts -- rebase on main`.
    Send {
        /// The slices whose agents get the prompt.
        #[arg(required = true, value_name = "SLICE", add = ArgValueCandidates::new(slice_names))]
        slices: Vec<String>,
        /// The prompt, after `--`.
        #[arg(last = true, required = true, value_name = "TEXT")]
        text: Vec<String>,
    },
    /// Write a review comment on lines of a slice's diff, as `c` on the
    /// Diff tab does; comments gather until `review-send`.
    /// `sliceboard comment marts models/marts/orders.sql:12-14 -- rename the column`.
    Comment {
        /// The slice.
        #[arg(value_name = "SLICE", add = ArgValueCandidates::new(slice_names))]
        slice: String,
        /// `PATH:LINE` or `PATH:FIRST-LAST`: lines of the slice's file as
        /// it is now, among the lines its diff shows (a deleted file's: as
        /// they were). Not needed with `--delete`.
        #[arg(value_name = "PATH:LINES", required_unless_present_any = ["delete", "edit"])]
        at: Option<String>,
        /// Delete comment N instead.
        #[arg(long, value_name = "N", conflicts_with_all = ["at", "edit"])]
        delete: Option<u32>,
        /// Rewrite comment N's text instead (PATH:LINES is then ignored).
        #[arg(long, value_name = "N")]
        edit: Option<u32>,
        /// The comment, after `--`.
        #[arg(last = true, value_name = "TEXT")]
        text: Vec<String>,
    },
    /// List a slice's review comments: where each sits in the diff now
    /// (or that it is outdated) and its text; and the last look.
    Comments {
        /// The slice.
        #[arg(value_name = "SLICE", add = ArgValueCandidates::new(slice_names))]
        slice: String,
        /// Print them as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Send a slice's review comments to its agent as one review (each
    /// with `path:lines`, the quoted hunk and the text), as a paste and
    /// Enter, starting the agent with the resume command if it is not
    /// running; journaled.
    ReviewSend {
        /// The slice.
        #[arg(value_name = "SLICE", add = ArgValueCandidates::new(slice_names))]
        slice: String,
    },
    /// Print the script that teaches your shell sliceboard's commands,
    /// flags and the plan's slice names: `source <(sliceboard completions
    /// bash)` in ~/.bashrc (zsh alike; fish: `sliceboard completions fish |
    /// source`).
    Completions {
        /// The shell.
        #[arg(value_parser = ["bash", "zsh", "fish", "elvish", "powershell"])]
        shell: String,
    },
    /// Print sliceboard's man page (roff): `sliceboard man | man -l -`.
    Man,
    /// Where your own settings are (keys, the copy command) and whether
    /// they load; with --example, a complete file with every default.
    Config {
        /// Print a complete, valid config file (every setting, defaults).
        #[arg(long)]
        example: bool,
    },
    /// Send the planner agent (`[planner]`) the aggregate result to review:
    /// what merged and at which commits, the integration check, open
    /// flags, failed slices (sent by itself once every slice has merged).
    Review,
    /// Push the integration branch's checked tip to `[forge] remote`
    /// (default `origin`), then run `[forge] command` (e.g. `gh pr create
    /// --fill --base {base} --head {integration}`); prints and journals
    /// its output's URL.
    Publish,
    /// Compare a slice's competing variants (`variants` in the plan): diff
    /// size, commits, dbt outcome, agent, time taken, flags.
    Compare {
        /// The slice with variants (or one of its variants).
        #[arg(value_name = "SLICE", add = ArgValueCandidates::new(slice_names))]
        slice: String,
        /// Show how two variants' branches differ (`git diff A B`).
        #[arg(long, num_args = 2, value_names = ["A", "B"])]
        diff: Option<Vec<String>>,
        /// Print the comparison as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Pick one of a slice's variants: approve it, and retire the others
    /// (agents stopped, worktrees removed, branches kept under
    /// `sliceboard/retired/`).
    Pick {
        /// The variant (NAME.N, as `check` lists them).
        #[arg(value_name = "VARIANT", add = ArgValueCandidates::new(slice_names))]
        variant: String,
        /// Approve it over its concerns (flags, dbt, unmerged `after`).
        #[arg(long)]
        force: bool,
        /// Do not ask before retiring the other variants.
        #[arg(long)]
        yes: bool,
    },
    /// Build a sample dbt repository with scripted agents, and open the dashboard on it.
    Demo {
        /// Where to create it (default: a new folder under the system's temp dir).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// How many slices (2 to 5).
        #[arg(long, default_value_t = 4)]
        slices: usize,
        /// Install dbt-core and dbt-duckdb 1.11 into a cached venv first, so agents run real builds.
        #[arg(long)]
        with_dbt: bool,
        /// Seconds between the stand-in agents' steps.
        #[arg(long, default_value_t = 2.0)]
        pace: f32,
        /// Create the repository and worktrees, but do not open the dashboard.
        #[arg(long)]
        no_open: bool,
        /// The merge queue runs itself: slices approve themselves when
        /// green, agents are told about conflicts, failed checks and
        /// upstream merges, ready slices merge.
        #[arg(long)]
        autopilot: bool,
    },
}
