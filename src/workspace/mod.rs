//! The application layer: a repository, its plan and its state, opened
//! together, and the operations on them (`up`, `down`, `status`, briefs).
//!
//! Wires the adapters (git, store, plan file) over the domain. Functions
//! here block; the command line calls them directly, the supervisor from
//! a worker. Progress goes out through a callback, never to stdout, so the
//! caller decides how to show it. Operations that change `state.json`
//! (`up`, `down`, `approve`, `withdraw`) take the caller's
//! [`StateStore`] (the supervisor's, or one a command opened under the
//! lock) and return what they journaled; read-only ones (`status`,
//! `reconcile`, `setup`'s lookup) read the file, which is always whole.
//! Never touches agents or terminals.

mod approve;
mod down;
mod ports;
mod rebuild;
mod reconcile;
mod sandbox;
mod setup;
mod status;
mod up;

use std::path::{Path, PathBuf};

pub use approve::{ReadDirt, approve, whole_status, withdraw};
pub use down::{DownReport, down};
pub use ports::port_variable;
pub use reconcile::reconcile;
pub use sandbox::{Boxed, probe as probe_sandbox};
pub use setup::{SetupOutcome, run_setup, setup_journaled, setup_state, skip_setup};
pub use status::{
    Live, MergeStatus, Problem, STATUS_SCHEMA_VERSION, SliceStatus, StatusReport, dirt_from_live,
    status, status_live,
};
pub use up::{UpReport, up, up_into};

use crate::domain::environment::SliceContext;
use crate::domain::{SliceName, SliceSpec};
use crate::git::{GitError, GitRepo};
use crate::plan_file::{self, Diagnostic, PLAN_FILE, PlanError, RepoFacts};
use crate::store::{StateDir, StateLock, StateStore, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no plan at {}; run `sliceboard init` to write a starter plan", path.display())]
    NoPlan { path: PathBuf },
    #[error("the plan has no slice named {name:?}; its slices are: {}", known.join(", "))]
    UnknownSlice { name: String, known: Vec<String> },
    #[error("{0}")]
    Refused(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

/// A long operation's progress, for whoever is watching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// 1-based step and the number of steps.
    pub step: usize,
    pub total: usize,
    pub slice: Option<SliceName>,
    pub message: String,
}

/// About how many slices the planner's DAG summary proposes.
const PLANNER_SLICES: usize = 4;

/// The repository, its checked plan and where its state lives.
pub struct Workspace {
    pub git: GitRepo,
    pub plan: crate::domain::Plan,
    /// Problems in the plan that did not stop it.
    pub warnings: Vec<Diagnostic>,
    pub state_dir: StateDir,
    /// What opening it found and repaired (a lost `state.json` rebuilt),
    /// for whoever opened it to say.
    pub notices: Vec<String>,
}

impl Workspace {
    /// Opens the repository containing `from` and loads its plan.
    pub fn open(from: &Path) -> Result<Self, WorkspaceError> {
        let git = GitRepo::discover(from)?;
        let path = git.root().join(PLAN_FILE);
        if !path.exists() {
            return Err(WorkspaceError::NoPlan { path });
        }
        let loaded = plan_file::load(&path, &GitFacts::new(&git))?;
        let state_dir = StateDir::for_common_dir(git.common_dir());
        let mut ws = Self {
            git,
            plan: loaded.plan,
            warnings: loaded.warnings,
            state_dir,
            notices: Vec::new(),
        };
        ws.notices = rebuild::rebuild_lost_state(&ws)?;
        Ok(ws)
    }

    /// Opens the repository containing `from` with its plan file as
    /// written, none of the checks that read the base branch's files run
    /// (on a large repository, most of a command's time): for a command a
    /// running supervisor carries out, with the plan it checked. `None`
    /// when the file does not load so, or the state was lost; the caller
    /// then opens it with [`Workspace::open`], which says why.
    pub fn open_unchecked(from: &Path) -> Option<Self> {
        let git = GitRepo::discover(from).ok()?;
        let path = git.root().join(PLAN_FILE);
        let loaded = plan_file::load(&path, &GitFacts::names_only(&git)).ok()?;
        let state_dir = StateDir::for_common_dir(git.common_dir());
        if !state_dir.state_file().exists() {
            return None;
        }
        Some(Self {
            git,
            plan: loaded.plan,
            warnings: Vec::new(),
            state_dir,
            notices: Vec::new(),
        })
    }

    /// Opens the repository containing `from` with `plan`, not the file's:
    /// the plan a running supervisor has in force while the file does not
    /// load.
    pub fn with_plan(from: &Path, plan: crate::domain::Plan) -> Result<Self, WorkspaceError> {
        let git = GitRepo::discover(from)?;
        let state_dir = StateDir::for_common_dir(git.common_dir());
        Ok(Self {
            git,
            plan,
            warnings: Vec::new(),
            state_dir,
            notices: Vec::new(),
        })
    }

    pub fn plan_path(&self) -> PathBuf {
        self.git.root().join(PLAN_FILE)
    }

    /// Takes the state lock for `command` (e.g. `sliceboard up`) and opens
    /// the state under it.
    pub fn lock_state(&self, command: &str) -> Result<StateStore, WorkspaceError> {
        self.state_dir.ensure()?;
        let lock = StateLock::acquire(&self.state_dir.lock_file(), command)?;
        Ok(StateStore::open(&self.state_dir, lock)?)
    }

    pub fn slice(&self, name: &str) -> Result<&SliceSpec, WorkspaceError> {
        self.plan
            .slice(name)
            .ok_or_else(|| WorkspaceError::UnknownSlice {
                name: name.to_owned(),
                known: self
                    .plan
                    .slices
                    .iter()
                    .map(|s| s.name.to_string())
                    .collect(),
            })
    }

    /// The slices named, in plan order; all of them when `names` is empty.
    pub fn select(&self, names: &[String]) -> Result<Vec<&SliceSpec>, WorkspaceError> {
        if names.is_empty() {
            return Ok(self.plan.slices.iter().collect());
        }
        for name in names {
            self.slice(name)?;
        }
        Ok(self
            .plan
            .slices
            .iter()
            .filter(|s| names.iter().any(|n| n == s.name.as_str()))
            .collect())
    }

    /// Where one slice lives and what it is told.
    pub fn context<'a>(&'a self, slice: &'a SliceSpec, brief_path: &'a Path) -> SliceContext<'a> {
        SliceContext {
            plan: &self.plan,
            slice,
            repo_root: self.git.root(),
            brief_path,
        }
    }

    /// Writes the slice's brief under the state dir when it changed, and
    /// returns its path. Nothing is written into the worktree.
    pub fn write_brief(&self, slice: &SliceSpec) -> Result<PathBuf, WorkspaceError> {
        let path = self.state_dir.brief_file(&slice.name);
        let mut brief = self.context(slice, &path).brief();
        // The planner also reads what the dbt manifest says of the DAG.
        if slice.role == crate::domain::plan::SliceRole::Planner
            && let Some(dag) = crate::dbt::models::dag_summary(
                self.git.root(),
                &self.plan.dbt.project_dir,
                PLANNER_SLICES,
            )
        {
            brief.push('\n');
            brief.push_str(&dag);
        }
        if std::fs::read_to_string(&path).ok().as_deref() != Some(brief.as_str()) {
            self.state_dir
                .write_slice_file(&slice.name, "brief.md", brief.as_bytes())?;
        }
        // The prompt alone, for `{prompt_file}`.
        let prompt = slice.prompt.trim();
        let prompt_path = self.context(slice, &path).prompt_path();
        if std::fs::read_to_string(&prompt_path).ok().as_deref() != Some(prompt) {
            self.state_dir
                .write_slice_file(&slice.name, "prompt.md", prompt.as_bytes())?;
        }
        Ok(path)
    }

    /// The slice's environment, with its brief written.
    pub fn env(&self, slice: &SliceSpec) -> Result<Vec<(String, String)>, WorkspaceError> {
        let brief = self.write_brief(slice)?;
        let ports = self.ports_of(&slice.name);
        let mut env = self.context(slice, &brief).env();
        if !ports.is_empty() {
            for (_, value) in &mut env {
                *value = crate::domain::template::fill_ports(value, &ports);
            }
            env.extend(
                ports
                    .iter()
                    .map(|(name, port)| (ports::port_variable(name), port.to_string())),
            );
        }
        env.extend(self.defer_env(slice.name.as_str()));
        Ok(env)
    }

    /// With `[dbt] defer = "integration"`, for `owner` (a slice, or
    /// `integration` for the merge check): where the integration build's
    /// manifest is (`SLICEBOARD_DBT_STATE`), the DuckDB file the owner
    /// builds into (`SLICEBOARD_DBT_DB`, a copy of the integration build
    /// once one is published, under the same name), the published one
    /// itself (`SLICEBOARD_DBT_DEFER_DB`), and the flags that build only
    /// what changed against it (`SLICEBOARD_DBT_SLIM`: `--select
    /// state:modified+ --defer --state DIR`, empty until a manifest is
    /// published) (docs/dbt.md).
    pub fn defer_env(&self, owner: &str) -> Vec<(String, String)> {
        if !self.plan.dbt.defer {
            return Vec::new();
        }
        let state = self.state_dir.dbt_state_dir();
        let text = |p: &Path| p.to_string_lossy().into_owned();
        let database = self.state_dir.dbt_db(owner);
        // DuckDB makes the file, not its folder.
        if let Some(dir) = database.parent()
            && let Err(err) = crate::os::private::create_dir(dir)
        {
            tracing::warn!(%err, dir = %dir.display(), "cannot create the folder of a dbt database");
        }
        let published = state.join("manifest.json").is_file();
        let state_text = text(&state);
        // Word-split by the shell where it is used: a path with blanks
        // cannot go in it.
        let slim = if published && !state_text.contains(char::is_whitespace) {
            format!("--select state:modified+ --defer --state {state_text}")
        } else {
            if published {
                tracing::warn!(state = %state_text, "SLICEBOARD_DBT_SLIM is empty: the state folder's path has blanks, which a shell would split; use --select state:modified+ --defer --state \"$SLICEBOARD_DBT_STATE\"");
            }
            String::new()
        };
        vec![
            ("SLICEBOARD_DBT_STATE".to_owned(), state_text),
            (
                "SLICEBOARD_DBT_DEFER_DB".to_owned(),
                text(&state.join(crate::store::DBT_DB_FILE)),
            ),
            ("SLICEBOARD_DBT_DB".to_owned(), text(&database)),
            ("SLICEBOARD_DBT_SLIM".to_owned(), slim),
        ]
    }

    /// With `[dbt] defer`: makes `owner`'s DuckDB file a copy of the
    /// published integration build (everything upstream, seeds and
    /// sources' tables included, under the same database name): always
    /// when `replace` (the merge check: it builds onto the last published
    /// build, and nothing else opens its database: a log a killed check
    /// left goes), else when it is missing or older than the published one
    /// and no write-ahead log beside it says a dbt has it open.
    /// `None` when nothing was copied (no deferral, nothing published yet,
    /// already current, or in use).
    pub fn seed_dbt_db(&self, owner: &str, replace: bool) -> std::io::Result<Option<PathBuf>> {
        let from = self
            .state_dir
            .dbt_state_dir()
            .join(crate::store::DBT_DB_FILE);
        let to = self.state_dir.dbt_db(owner);
        if !self.plan.dbt.defer || !from.is_file() {
            return Ok(None);
        }
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let current = to.exists() && modified(&to) >= modified(&from);
        let wal = to.with_extension("duckdb.wal");
        if !replace && (current || wal.exists()) {
            if !current {
                tracing::info!(owner, "a dbt database in use was kept as it is");
            }
            return Ok(None);
        }
        if replace {
            let _ = std::fs::remove_file(&wal);
        }
        crate::dbt::defer::copy_database(&from, &to)?;
        Ok(Some(to))
    }
}

/// The plan's questions, answered by git.
pub struct GitFacts<'a> {
    git: &'a GitRepo,
    /// Whether the base branch's files are read, and slices' globs
    /// compared.
    thorough: bool,
}

impl<'a> GitFacts<'a> {
    /// Every check, against the base branch's files too.
    pub fn new(git: &'a GitRepo) -> Self {
        Self {
            git,
            thorough: true,
        }
    }

    /// Without the base branch's files, and slices' globs not compared:
    /// what [`Workspace::open_unchecked`] checks a plan against.
    fn names_only(git: &'a GitRepo) -> Self {
        Self {
            git,
            thorough: false,
        }
    }
}

impl RepoFacts for GitFacts<'_> {
    fn repo_root(&self) -> &Path {
        self.git.root()
    }

    fn branch_exists(&self, branch: &str) -> bool {
        self.git.branch_exists(branch)
    }

    fn branches(&self) -> Vec<String> {
        self.git.branches()
    }

    fn is_valid_branch_name(&self, branch: &str) -> bool {
        GitRepo::is_valid_branch_name(branch)
    }

    fn files_at(&self, branch: &str) -> Vec<String> {
        if self.thorough {
            self.git.files_at(branch)
        } else {
            Vec::new()
        }
    }

    fn compares_slices(&self) -> bool {
        self.thorough
    }
}
