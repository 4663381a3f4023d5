//! Live diffs on a 20,000-file dbt-like repository: how long a write takes
//! to show up in the slice's diff, what each refresh costs in CPU, what a
//! full and a per-path `DiffSource` diff take next to the git CLI, and what
//! ten watched worktrees cost while nothing happens.
//!
//! The repository is synthetic (`models/area_XX/sub_YY/model_N.sql`, 400
//! leaf folders of 50 files, a .gitignore with `target/` and `logs/`),
//! committed on `main` with the git CLI in a sandboxed environment; each
//! slice is a linked worktree added with `git worktree add`. Latency runs
//! from just before the write to the moment the engine's thread hands over
//! the update whose diff shows the written file with the written counts.
//!
//! Run with `cargo bench --bench diff_latency`. Environment:
//! - `DIFF_BENCH_ROUNDS`: writes timed (default 200).
//! - `DIFF_BENCH_IDLE_SECS`: idle measurement with ten worktrees (default
//!   60; 0 skips the ten worktrees altogether).
//! - `DIFF_BENCH_FILES`: files in the repository (default 20,000).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use sliceboard::domain::SliceName;
use sliceboard::domain::diff::WatchMode;
use sliceboard::git::{Branches, DiffSource};
use sliceboard::watch::{DiffUpdate, LiveDiffs, LiveOptions, Stats, Target};

/// Leaf folders the files are spread over: 20 areas of 20 folders.
const AREAS: usize = 20;
const SUBS: usize = 20;
const FOLDERS: usize = AREAS * SUBS;
/// Lines of a committed model.
const MODEL_LINES: usize = 5;
/// Coprime with `FOLDERS`, so consecutive rounds land in scattered folders
/// and no folder is used twice in 400 rounds.
const FOLDER_STRIDE: usize = 173;
const PAUSE: Duration = Duration::from_millis(100);
/// Generous: a refresh is expected within ~50 ms.
const TIMEOUT: Duration = Duration::from_secs(10);
const IDLE_WORKTREES: usize = 10;

fn main() {
    let rounds = env_usize("DIFF_BENCH_ROUNDS", 200);
    let idle_secs = env_usize("DIFF_BENCH_IDLE_SECS", 60);
    let files = env_usize("DIFF_BENCH_FILES", 20_000);
    let tmp = tempfile::tempdir().expect("temporary directory");
    let repo = tmp.path().join("repo");

    let started = Instant::now();
    build_repo(&repo, files);
    let built = started.elapsed();
    let started = Instant::now();
    let worktree = add_worktree(&repo, tmp.path(), "a");
    let added = started.elapsed();
    println!(
        "repository: {files} files in {} folders, built and committed in {:.1} s; \
         worktree added in {:.2} s",
        FOLDERS + AREAS + 2,
        built.as_secs_f64(),
        added.as_secs_f64()
    );

    let mut table = Table::default();
    let (diffs, updates) = start(&repo, &[(worktree.clone(), "a")]);
    let first = updates
        .recv_timeout(TIMEOUT)
        .expect("a first update within 10 s");
    table.row(
        "watches: stats / in the kernel (1 worktree)",
        format!(
            "{} / {}",
            diffs.stats().watches.load(Ordering::Relaxed),
            inotify_watches()
        ),
    );
    check_events_mode(&first.1);

    // 1. Write → updated diff.
    let before = Counters::read(diffs.stats());
    let cpu_before = cpu_time();
    let mut latencies = Vec::with_capacity(rounds);
    let mut stray = 0;
    let mut touched = Vec::with_capacity(rounds);
    for round in 0..rounds {
        stray += updates.try_iter().count();
        let edit = Edit::for_round(round, files);
        let at = Instant::now();
        std::fs::write(worktree.join(&edit.path), &edit.content).expect("write the file");
        let deadline = at + TIMEOUT;
        loop {
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| panic!("no update showing {} within 10 s", edit.path));
            let (seen, update) = updates.recv_timeout(left).unwrap_or_else(|_| {
                panic!("no update showing {} within 10 s", edit.path);
            });
            if edit.shown_in(&update) {
                latencies.push(seen.duration_since(at));
                break;
            }
            stray += 1;
        }
        touched.push(edit.path);
        std::thread::sleep(PAUSE);
    }
    let cpu = cpu_time() - cpu_before;
    let after = Counters::read(diffs.stats());
    let refreshes = after.refreshes() - before.refreshes();

    let ms: Vec<f64> = latencies.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    table.section(&format!("write → updated diff, {rounds} rounds"));
    table.row("p50", format!("{:.1} ms", percentile(&ms, 50.0)));
    table.row("p95", format!("{:.1} ms", percentile(&ms, 95.0)));
    table.row("max", format!("{:.1} ms", max(&ms)));
    table.row("mean", format!("{:.1} ms", mean(&ms)));
    table.row(
        "refreshes (path / full)",
        format!(
            "{} / {}",
            after.path_diffs - before.path_diffs,
            after.full_diffs - before.full_diffs
        ),
    );
    table.row(
        "events / updates / other updates",
        format!(
            "{} / {} / {stray}",
            after.events - before.events,
            after.updates - before.updates
        ),
    );
    table.row(
        "process CPU per refresh",
        format!(
            "{:.2} ms ({:.0} ms over {refreshes})",
            cpu.as_secs_f64() * 1e3 / refreshes.max(1) as f64,
            cpu.as_secs_f64() * 1e3
        ),
    );

    // 2. The diff engine alone, on the worktree as the rounds left it
    // (index untouched since `git worktree add`).
    let source = DiffSource::open(
        &worktree,
        Branches {
            base: "main",
            integration: "main",
        },
        None,
        true,
    )
    .expect("open the worktree");
    let changed = source.full().expect("full diff").files.len();
    table.section(&format!(
        "one diff of the worktree ({changed} changed files)"
    ));
    let full = median_ms(10, || {
        source.full().expect("full diff");
    });
    table.row("DiffSource::full, median of 10", format!("{full:.1} ms"));
    let one = [touched.first().cloned().unwrap_or_else(|| model_path(0, 0))];
    let paths = median_ms(50, || {
        source.paths(&one).expect("per-path diff");
    });
    table.row(
        "DiffSource::paths (1 path), median of 50",
        format!("{paths:.2} ms"),
    );

    // An agent's `git status` in the worktree, with the engine watching.
    let before = Counters::read(diffs.stats());
    git(&worktree, &["status", "--porcelain"]);
    std::thread::sleep(Duration::from_millis(500));
    let after = Counters::read(diffs.stats());
    table.row(
        "one `git status` seen by the engine",
        format!(
            "{} events, {} full / {} path diffs",
            after.events - before.events,
            after.full_diffs - before.full_diffs,
            after.path_diffs - before.path_diffs
        ),
    );
    drop(diffs);

    // 3. The git CLI on the same worktree.
    let base = git(&worktree, &["merge-base", "HEAD", "main"]);
    let base = base.trim();
    let cli = median_ms(10, || {
        git(&worktree, &["diff", "--stat", base]);
        git(&worktree, &["status", "--porcelain"]);
    });
    table.row(
        "git diff --stat + git status --porcelain, median of 10",
        format!("{cli:.1} ms"),
    );
    let refreshed = median_ms(10, || {
        source.full().expect("full diff");
    });
    table.row(
        "DiffSource::full after git refreshed the index",
        format!("{refreshed:.1} ms"),
    );
    drop(source);

    // 4. Ten watched worktrees, idle.
    if idle_secs > 0 {
        idle(&repo, tmp.path(), idle_secs, &mut table);
    }

    println!();
    table.print();
    let p50 = percentile(&ms, 50.0);
    let p95 = percentile(&ms, 95.0);
    println!(
        "\ngoals: p50 <= 50 ms ({}), p95 <= 100 ms ({})",
        if p50 <= 50.0 { "met" } else { "MISSED" },
        if p95 <= 100.0 { "met" } else { "MISSED" }
    );
    let started = Instant::now();
    drop(tmp);
    println!("cleaned up in {:.1} s", started.elapsed().as_secs_f64());
}

fn idle(repo: &Path, tmp: &Path, secs: usize, table: &mut Table) {
    let started = Instant::now();
    let worktrees: Vec<(PathBuf, String)> = (1..=IDLE_WORKTREES)
        .map(|n| {
            let name = format!("s{n:02}");
            (add_worktree(repo, tmp, &name), name)
        })
        .collect();
    let added = started.elapsed();
    let named: Vec<(PathBuf, &str)> = worktrees
        .iter()
        .map(|(p, n)| (p.clone(), n.as_str()))
        .collect();
    let started = Instant::now();
    let (diffs, updates) = start(repo, &named);
    for _ in 0..IDLE_WORKTREES {
        let (_, update) = updates
            .recv_timeout(TIMEOUT * 3)
            .expect("a first update per worktree");
        check_events_mode(&update);
    }
    let ready = started.elapsed();
    // Let anything the start-up stirred settle before measuring.
    std::thread::sleep(Duration::from_secs(2));
    let before = Counters::read(diffs.stats());
    let cpu_before = cpu_time();
    let wall = Instant::now();
    std::thread::sleep(Duration::from_secs(secs as u64));
    let cpu = cpu_time() - cpu_before;
    let wall = wall.elapsed();
    let after = Counters::read(diffs.stats());

    table.section(&format!(
        "{IDLE_WORKTREES} watched worktrees, {secs} s idle"
    ));
    table.row(
        "worktrees added / first updates",
        format!(
            "{:.1} s / {:.2} s",
            added.as_secs_f64(),
            ready.as_secs_f64()
        ),
    );
    table.row(
        "watches: stats / in the kernel",
        format!("{} / {}", after.watches, inotify_watches()),
    );
    table.row(
        "process CPU while idle",
        format!(
            "{:.4}% of one core ({:.3} ms)",
            cpu.as_secs_f64() / wall.as_secs_f64() * 100.0,
            cpu.as_secs_f64() * 1e3
        ),
    );
    table.row(
        "events / diffs / updates while idle",
        format!(
            "{} / {} / {}",
            after.events - before.events,
            after.refreshes() - before.refreshes(),
            after.updates - before.updates
        ),
    );
    drop(diffs);
}

/// One round's write: every even round edits a committed model (one line
/// changed, some appended), every odd one creates a new file; each round in
/// its own folder.
struct Edit {
    path: String,
    content: String,
    added: usize,
    removed: usize,
}

impl Edit {
    fn for_round(round: usize, files: usize) -> Self {
        let folder = (round * FOLDER_STRIDE) % FOLDERS;
        let extra = 1 + round % 5;
        if round.is_multiple_of(2) {
            let per_folder = files.div_ceil(FOLDERS);
            let n = folder * per_folder + (round * 7) % per_folder;
            let n = n.min(files - 1);
            let folder = n / per_folder;
            let mut lines = model_lines(n);
            lines[MODEL_LINES - 1] = format!("where round = {round}");
            lines.extend((0..extra).map(|k| format!("-- edit {round}.{k}")));
            Self {
                path: model_path(folder, n),
                content: lines.join("\n") + "\n",
                added: 1 + extra,
                removed: 1,
            }
        } else {
            let lines: Vec<String> = (0..2 + extra)
                .map(|k| format!("select {round} as line_{k}"))
                .collect();
            Self {
                path: format!("{}/new_{round}.sql", folder_path(folder)),
                content: lines.join("\n") + "\n",
                added: 2 + extra,
                removed: 0,
            }
        }
    }

    fn shown_in(&self, update: &DiffUpdate) -> bool {
        update
            .diff
            .files
            .iter()
            .any(|f| f.path == self.path && f.added == self.added && f.removed == self.removed)
    }
}

fn folder_path(folder: usize) -> String {
    format!("models/area_{:02}/sub_{:02}", folder / SUBS, folder % SUBS)
}

/// Model `n` lives in folder `n / per_folder`, numbered across the repo.
fn model_path(folder: usize, n: usize) -> String {
    format!("{}/model_{n}.sql", folder_path(folder))
}

fn model_lines(n: usize) -> Vec<String> {
    vec![
        format!("-- model {n}"),
        "select".to_owned(),
        format!("    id, {n} as model"),
        format!("from {{{{ ref('model_{}') }}}}", n.saturating_sub(1)),
        "where true".to_owned(),
    ]
}

fn build_repo(repo: &Path, files: usize) {
    let per_folder = files.div_ceil(FOLDERS);
    for n in 0..files {
        let path = repo.join(model_path(n / per_folder, n));
        if n.is_multiple_of(per_folder) {
            std::fs::create_dir_all(path.parent().expect("a folder")).expect("create folders");
        }
        std::fs::write(&path, model_lines(n).join("\n") + "\n").expect("write a model");
    }
    std::fs::write(repo.join(".gitignore"), "target/\nlogs/\n").expect("write .gitignore");
    std::fs::write(
        repo.join("dbt_project.yml"),
        "name: bench\nversion: '1.0'\nprofile: bench\n",
    )
    .expect("write dbt_project.yml");
    git(repo, &["init", "--quiet", "--initial-branch=main"]);
    git(repo, &["add", "--all"]);
    git(repo, &["commit", "--quiet", "--message", "20k models"]);
}

fn add_worktree(repo: &Path, tmp: &Path, name: &str) -> PathBuf {
    let path = tmp.join("worktrees").join(name);
    let branch = format!("slice/{name}");
    git(
        repo,
        &[
            "worktree",
            "add",
            "--quiet",
            "-b",
            &branch,
            path.to_str().expect("a UTF-8 temporary path"),
            "main",
        ],
    );
    path
}

/// Runs git with no user or system config, fixed identities and dates;
/// returns its stdout and panics with its stderr when it fails.
fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .current_dir(dir)
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z")
        .env("GIT_COMMITTER_NAME", "Bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z")
        .output()
        .expect("run git");
    assert!(
        output.status.success(),
        "git {args:?} failed in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

type Updates = mpsc::Receiver<(Instant, DiffUpdate)>;

/// Live diffs over `worktrees`; each update arrives stamped with the moment
/// the engine's thread handed it over.
fn start(repo: &Path, worktrees: &[(PathBuf, &str)]) -> (LiveDiffs, Updates) {
    let targets = worktrees
        .iter()
        .map(|(path, name)| Target {
            slice: SliceName::parse(name).expect("a valid slice name"),
            worktree: path.clone(),
            branch: format!("slice/{name}"),
            fallback_base: None,
            aux_dirs: vec![path.join("logs"), path.join("target")],
        })
        .collect();
    let (tx, rx) = mpsc::channel();
    let diffs = LiveDiffs::start(
        &repo.join(".git"),
        Branches {
            base: "main",
            integration: "main",
        },
        targets,
        LiveOptions::default(),
        (
            Arc::new(move |update| {
                let _ = tx.send((Instant::now(), update));
            }),
            Arc::new(|_| {}),
            Arc::new(|| {}),
        ),
    )
    .expect("the watcher starts");
    (diffs, rx)
}

fn check_events_mode(update: &DiffUpdate) {
    assert_eq!(
        update.mode,
        WatchMode::Events,
        "{} is not watched by events: {:?}",
        update.slice.as_str(),
        update.error
    );
}

/// A snapshot of the engine's counters.
struct Counters {
    events: u64,
    full_diffs: u64,
    path_diffs: u64,
    updates: u64,
    watches: u64,
}

impl Counters {
    fn read(stats: &Stats) -> Self {
        Self {
            events: stats.events.load(Ordering::Relaxed),
            full_diffs: stats.full_diffs.load(Ordering::Relaxed),
            path_diffs: stats.path_diffs.load(Ordering::Relaxed),
            updates: stats.updates.load(Ordering::Relaxed),
            watches: stats.watches.load(Ordering::Relaxed),
        }
    }

    fn refreshes(&self) -> u64 {
        self.full_diffs + self.path_diffs
    }
}

/// User + system CPU time of this process, all threads.
fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is valid.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    assert_eq!(rc, 0, "getrusage failed");
    // SAFETY: zeroed is a valid rusage, and getrusage succeeded.
    let usage = unsafe { usage.assume_init() };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// inotify watches this process holds, as the kernel lists them in
/// `/proc/self/fdinfo` (one `inotify wd:` line per watch).
fn inotify_watches() -> usize {
    let Ok(fds) = std::fs::read_dir("/proc/self/fdinfo") else {
        return 0;
    };
    fds.flatten()
        .filter_map(|fd| std::fs::read_to_string(fd.path()).ok())
        .map(|info| {
            info.lines()
                .filter(|l| l.starts_with("inotify wd:"))
                .count()
        })
        .sum()
}

fn median_ms(runs: usize, mut what: impl FnMut()) -> f64 {
    let times: Vec<f64> = (0..runs)
        .map(|_| {
            let at = Instant::now();
            what();
            at.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    percentile(&times, 50.0)
}

/// Nearest-rank percentile.
fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NAN, f64::max)
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Rows printed at the end, grouped under section titles.
#[derive(Default)]
struct Table {
    rows: Vec<(String, Option<String>)>,
}

impl Table {
    fn section(&mut self, title: &str) {
        self.rows.push((title.to_owned(), None));
    }

    fn row(&mut self, what: &str, value: String) {
        self.rows.push((what.to_owned(), Some(value)));
    }

    fn print(&self) {
        let width = self
            .rows
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(w, _)| w.chars().count())
            .max()
            .unwrap_or(0);
        for (what, value) in &self.rows {
            match value {
                Some(value) => println!("  {what:<width$}  {value}"),
                None => println!("{what}"),
            }
        }
    }
}
