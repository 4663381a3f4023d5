//! The thread that reads every slice's dbt files and extra logs: when the
//! live-diff engine says something in those folders changed, and every
//! [`SAFETY`] in case an event never came. What it reads goes to the hub
//! as board updates.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use super::hub::Hub;
use crate::dbt::extra_logs::LogFollower;
use crate::dbt::{DbtWatch, LogTail};
use crate::domain::board::BoardUpdate;
use crate::domain::{Plan, SliceName, SliceSpec};
use crate::store::{State, StateDir};
use crate::watch::Target;
use crate::workspace::Workspace;

/// Every worktree's files are read this often even when no file event woke
/// the follower: a safety net for a lost event. dbt's folders and the
/// plan's log folders are watched, and their changes wake it; so do the
/// live diffs when their events overflowed and at their own resync
/// (every five minutes).
const SAFETY: Duration = Duration::from_secs(600);
/// How often a running worktree setup's output is read.
const SETUP_POLL: Duration = Duration::from_millis(500);
/// After a wake-up the follower waits this long, so a burst of writes is
/// read in one go.
const COALESCE: Duration = Duration::from_millis(50);

/// What the follower watches for one slice.
pub struct Followed {
    pub slice: SliceName,
    pub dbt_dir: PathBuf,
    pub worktree: PathBuf,
    pub log_globs: Vec<String>,
    /// The worktree setup's output and state (`setup.log`, `setup.json`).
    pub setup_log: PathBuf,
    pub setup_file: PathBuf,
}

/// What wakes the follower.
pub enum Wake {
    /// Something changed in these folders of the slice.
    Files(SliceName),
    /// A slice added to the plan while the supervisor runs.
    Follow(Box<Followed>),
}

/// Every slice's folders, from the plan and the state.
pub fn followed(ws: &Workspace, state: &State) -> Vec<Followed> {
    ws.plan
        .slices
        .iter()
        .map(|spec| follow(&ws.plan, ws.git.root(), &ws.state_dir, state, spec))
        .collect()
}

/// One slice's folders.
pub fn follow(
    plan: &Plan,
    root: &Path,
    state_dir: &StateDir,
    state: &State,
    spec: &SliceSpec,
) -> Followed {
    let worktree = state.slices.get(&spec.name).map_or_else(
        || plan.worktree_for(&spec.name, root),
        |r| r.worktree.clone(),
    );
    Followed {
        slice: spec.name.clone(),
        dbt_dir: worktree.join(&plan.dbt.project_dir),
        worktree,
        log_globs: spec.logs.clone(),
        setup_log: state_dir.setup_log(&spec.name),
        setup_file: state_dir.setup_file(&spec.name),
    }
}

/// What the live-diff engine watches for each slice: its worktree, and
/// dbt's and the plan's log folders for the follower.
pub fn diff_targets(ws: &Workspace, state: &State, followed: &[Followed]) -> Vec<Target> {
    followed
        .iter()
        .map(|f| diff_target(&ws.plan, ws.git.root(), state, f))
        .collect()
}

/// What the live-diff engine watches for one slice.
pub fn diff_target(plan: &Plan, root: &Path, state: &State, f: &Followed) -> Target {
    let repo = crate::domain::plan::repo_name(root);
    let record = state.slices.get(&f.slice);
    let mut aux_dirs = vec![f.dbt_dir.join("logs"), f.dbt_dir.join("target")];
    aux_dirs.extend(
        LogFollower::new(&f.worktree, &f.log_globs)
            .folders()
            .map(Path::to_owned),
    );
    Target {
        slice: f.slice.clone(),
        worktree: f.worktree.clone(),
        branch: record.map_or_else(|| plan.branch_for(&f.slice, &repo), |r| r.branch.clone()),
        fallback_base: record.map(|r| r.base_commit.clone()),
        aux_dirs,
    }
}

/// A slice's dbt files, extra logs and setup output, as they are read.
type Watched = (SliceName, DbtWatch, LogFollower, LogTail);

fn watched(f: Followed) -> Watched {
    let logs = LogFollower::new(&f.worktree, &f.log_globs);
    let prefix = f.dbt_dir.strip_prefix(&f.worktree).unwrap_or(Path::new(""));
    let watch = DbtWatch::new(&f.dbt_dir).with_prefix(prefix);
    (f.slice, watch, logs, LogTail::new(&f.setup_log))
}

/// Reads the files of the slices `wake` names (everything at the start and
/// every [`SAFETY`]) until `stop` is set or `wake` closes.
pub fn spawn(
    followed: Vec<Followed>,
    wake: mpsc::Receiver<Wake>,
    hub: Arc<Hub>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("file-follower".into())
        .spawn(move || {
            let mut files = Files {
                setup_files: followed.iter().map(|f| f.setup_file.clone()).collect(),
                watches: followed.into_iter().map(watched).collect(),
            };
            let mut woken: Option<BTreeSet<SliceName>> = None;
            while !stop.load(Ordering::SeqCst) {
                files.read(woken.as_ref(), &hub);
                // A setup in progress writes outside every watched folder.
                let wait = if files.setting_up() {
                    SETUP_POLL
                } else {
                    SAFETY
                };
                woken = match wake.recv_timeout(wait) {
                    Ok(first) => {
                        std::thread::sleep(COALESCE);
                        Some(files.woken(std::iter::once(first).chain(wake.try_iter())))
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                };
            }
        })
}

/// Every followed slice's files, as the follower's thread reads them.
struct Files {
    setup_files: Vec<PathBuf>,
    watches: Vec<Watched>,
}

impl Files {
    /// Reads the slices in `woken` (all of them when `None`) and sends
    /// the hub what is new.
    fn read(&mut self, woken: Option<&BTreeSet<SliceName>>, hub: &Hub) {
        for (slice, watch, logs, setup) in &mut self.watches {
            if woken.is_some_and(|w| !w.contains(slice)) {
                continue;
            }
            if watch.poll() {
                hub.dbt(slice, watch.last_run());
            }
            let dbt = watch.take_log_lines();
            let mut extra: Vec<String> = setup
                .poll()
                .map(|t| t.lines)
                .unwrap_or_default()
                .into_iter()
                .map(|line| format!("setup | {line}"))
                .collect();
            extra.extend(logs.poll());
            if !dbt.is_empty() || !extra.is_empty() {
                hub.publish(BoardUpdate::Lines {
                    slice: slice.clone(),
                    dbt,
                    extra,
                });
            }
        }
    }

    /// Whether a slice's worktree setup runs now.
    fn setting_up(&self) -> bool {
        self.setup_files.iter().any(|file| {
            std::fs::read_to_string(file).is_ok_and(|text| text.contains("\"running\""))
        })
    }

    /// The slices these wake-ups name, following the slices they add.
    fn woken(&mut self, wakes: impl Iterator<Item = Wake>) -> BTreeSet<SliceName> {
        let mut set = BTreeSet::new();
        for wake in wakes {
            match wake {
                Wake::Files(slice) => {
                    set.insert(slice);
                }
                Wake::Follow(f) => {
                    set.insert(f.slice.clone());
                    self.setup_files.push(f.setup_file.clone());
                    self.watches.push(watched(*f));
                }
            }
        }
        set
    }
}
