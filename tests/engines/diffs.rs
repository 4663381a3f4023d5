//! Live diffs on real repositories and worktrees: every kind of change,
//! refresh driven by file events, ownership and overlap flags.

use crate::common;

use std::path::Path;

use common::{TestRepo, write_file};
use sliceboard::domain::diff::{ChangeKind, SliceDiff, Stage};
use sliceboard::git::{Branches, DiffSource};

const MAIN: Branches<'static> = Branches {
    base: "main",
    integration: "main",
};

/// `(path, letter, stage, +, -, binary)` per file, for one comparison.
fn table(diff: &SliceDiff) -> Vec<(String, char, Stage, usize, usize, bool)> {
    diff.files
        .iter()
        .map(|f| {
            let path = match &f.old_path {
                Some(old) => format!("{old} -> {}", f.path),
                None => f.path.clone(),
            };
            (path, f.kind.letter(), f.stage, f.added, f.removed, f.binary)
        })
        .collect()
}

fn up(repo: &TestRepo) {
    repo.sliceboard(&["up"]).ok();
}

fn source(worktree: &Path) -> DiffSource {
    DiffSource::open(worktree, MAIN, None, true).expect("worktree opens")
}

/// A file a commit changed and the worktree put back, a new untracked
/// folder, a rename across folders: the diff read among the paths that
/// can differ is the whole diff.
#[test]
fn the_diff_among_the_paths_that_can_differ_is_the_whole_diff() {
    let repo = TestRepo::with_plan();
    up(&repo);
    let wt = repo.worktree("staging");
    let among = || {
        let (_, uncommitted) = sliceboard::git::GitRepo::dirt_and_paths(&wt).unwrap();
        source(&wt).full_among(&uncommitted).unwrap()
    };
    assert_eq!(among(), source(&wt).full().unwrap());
    let original = std::fs::read_to_string(wt.join("models/staging/stg_orders.sql")).unwrap();
    write_file(&wt.join("models/staging/stg_orders.sql"), "select 42\n");
    write_file(&wt.join("models/new/deep/a.sql"), "select 1\n");
    repo.git_in(&wt, &["add", "-A"]);
    repo.git_in(&wt, &["commit", "-q", "-m", "work"]);
    write_file(&wt.join("models/staging/stg_orders.sql"), &original);
    write_file(&wt.join("docs/untracked/notes.md"), "x\n");
    repo.git_in(&wt, &["mv", "macros/dates.sql", "models/new/dates.sql"]);
    let whole = source(&wt).full().unwrap();
    assert!(
        whole
            .files
            .iter()
            .any(|f| f.path == "docs/untracked/notes.md"),
        "{whole:?}"
    );
    assert_eq!(among(), whole);
}

#[test]
fn every_kind_of_change_appears_with_its_status_and_counts() {
    let repo = TestRepo::with_plan();
    up(&repo);
    let wt = repo.worktree("staging");
    assert_eq!(source(&wt).full().unwrap().files, []);

    // Committed: one line changed.
    write_file(
        &wt.join("models/staging/stg_orders.sql"),
        "select id, user_id from {{ ref('orders') }}\n",
    );
    write_file(&wt.join(".gitignore"), "target/\n");
    repo.git_in(&wt, &["add", "-A"]);
    repo.git_in(&wt, &["commit", "-q", "-m", "migrate orders"]);
    // Staged: a new file.
    write_file(
        &wt.join("models/staging/stg_items.sql"),
        "select 1\nselect 2\n",
    );
    repo.git_in(&wt, &["add", "models/staging/stg_items.sql"]);
    // Unstaged: two lines appended.
    write_file(
        &wt.join("models/staging/stg_users.sql"),
        "select * from {{ ref('users') }}\nwhere 1 = 1\nand 2 = 2\n",
    );
    // Untracked, and untracked but ignored.
    write_file(&wt.join("models/staging/notes.md"), "a\nb\nc\n");
    write_file(&wt.join("target/compiled/x.sql"), "select 1\n");
    // Deleted without git, renamed with git.
    std::fs::remove_file(wt.join("macros/dates.sql")).unwrap();
    repo.git_in(&wt, &["mv", "seeds/orders.csv", "seeds/orders_raw.csv"]);
    // Binary, and a file that became a symlink.
    std::fs::write(
        wt.join("models/staging/logo.png"),
        [0u8, 159, 146, 150, 0, 1],
    )
    .unwrap();
    std::fs::remove_file(wt.join("seeds/users.csv")).unwrap();
    std::os::unix::fs::symlink("orders_raw.csv", wt.join("seeds/users.csv")).unwrap();

    let diff = source(&wt).full().unwrap();
    let m = repo.git(&["merge-base", "main", "slice/staging"]);
    assert_eq!(diff.base.as_deref(), Some(m.as_str()));
    // `status` without a supervisor reads only what the status found and
    // what the commits changed: the same diff.
    let (_, uncommitted) = sliceboard::git::GitRepo::dirt_and_paths(&wt).unwrap();
    assert_eq!(source(&wt).full_among(&uncommitted).unwrap(), diff);
    let s = |p: &str, k, st, a, r, b| (p.to_string(), k, st, a, r, b);
    use Stage::{Tracked as T, Untracked as U};
    assert_eq!(
        table(&diff),
        [
            s(".gitignore", 'A', T, 1, 0, false),
            s("macros/dates.sql", 'D', T, 0, 1, false),
            s("models/staging/logo.png", 'A', U, 0, 0, true),
            s("models/staging/notes.md", 'A', U, 3, 0, false),
            s("models/staging/stg_items.sql", 'A', T, 2, 0, false),
            s("models/staging/stg_orders.sql", 'M', T, 1, 1, false),
            s("models/staging/stg_users.sql", 'M', T, 2, 0, false),
            s(
                "seeds/orders.csv -> seeds/orders_raw.csv",
                'R',
                T,
                0,
                0,
                false
            ),
            s("seeds/users.csv", 'T', T, 0, 0, false),
        ]
    );
    assert_eq!((diff.added(), diff.removed()), (9, 2));

    // Hunks carry line numbers on both sides.
    let users = &diff.files[6];
    let lines: Vec<(Option<u32>, Option<u32>, &str)> = users.hunks[0]
        .lines
        .iter()
        .map(|l| (l.old_line, l.new_line, l.text.as_str()))
        .collect();
    assert_eq!(
        lines,
        [
            (Some(1), Some(1), "select * from {{ ref('users') }}"),
            (None, Some(2), "where 1 = 1"),
            (None, Some(3), "and 2 = 2"),
        ]
    );
    assert!(
        users.hunks[0].header.starts_with("@@ -1 +1,3 @@"),
        "{}",
        users.hunks[0].header
    );

    // A rename done with plain `mv` pairs the deletion with the new file.
    std::fs::rename(
        wt.join("models/staging/stg_items.sql"),
        wt.join("models/staging/stg_line_items.sql"),
    )
    .unwrap();
    let diff = source(&wt).full().unwrap();
    let items: Vec<_> = table(&diff)
        .into_iter()
        .filter(|row| row.0.contains("items"))
        .collect();
    assert_eq!(
        items,
        [s("models/staging/stg_line_items.sql", 'A', U, 2, 0, false)],
        "a staged file renamed before its first commit is new to the merge base"
    );
}

#[test]
fn a_diff_limited_to_paths_splices_into_the_full_one() {
    let repo = TestRepo::with_plan();
    up(&repo);
    let wt = repo.worktree("marts");
    write_file(&wt.join("models/marts/fct_orders.sql"), "select 1\n");
    write_file(&wt.join("models/marts/new/one.sql"), "select 1\n");
    let src = source(&wt);
    let mut live = src.full().unwrap();
    assert_eq!(live.files.len(), 2);

    // Revert one file, add another in a new folder; re-diff those paths.
    repo.git_in(&wt, &["checkout", "models/marts/fct_orders.sql"]);
    write_file(&wt.join("models/marts/new/two.sql"), "select 2\n");
    let paths = vec![
        "models/marts/fct_orders.sql".to_string(),
        "models/marts/new".to_string(),
    ];
    let fresh = src.paths(&paths).unwrap();
    live.splice(
        |p| {
            paths
                .iter()
                .any(|c| p == c || p.starts_with(&format!("{c}/")))
        },
        fresh,
    );
    assert_eq!(live, src.full().unwrap());
    let kinds: Vec<(&str, &ChangeKind)> = live
        .files
        .iter()
        .map(|f| (f.path.as_str(), &f.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("models/marts/new/one.sql", &ChangeKind::Added),
            ("models/marts/new/two.sql", &ChangeKind::Added),
        ]
    );
}

mod live {
    use std::sync::{Arc, mpsc};
    use std::time::{Duration, SystemTime};

    use sliceboard::domain::SliceName;
    use sliceboard::domain::diff::WatchMode;
    use sliceboard::domain::diff::{SliceDiff, Stage};
    use sliceboard::watch::{DiffUpdate, LiveDiffs, LiveOptions, Target};

    use super::common::{Deadline, TestRepo, WAIT, poll_until, write_file};

    /// Live diffs over some slices of a repository that is `up`.
    pub struct Harness {
        pub diffs: LiveDiffs,
        updates: mpsc::Receiver<DiffUpdate>,
        files: mpsc::Receiver<SliceName>,
        refs: mpsc::Receiver<()>,
        /// The newest update of each slice seen so far.
        latest: std::cell::RefCell<std::collections::BTreeMap<String, DiffUpdate>>,
    }

    pub fn start(repo: &TestRepo, slices: &[&str], options: LiveOptions) -> Harness {
        let targets = slices
            .iter()
            .map(|s| {
                let worktree = repo.worktree(s);
                Target {
                    slice: SliceName::parse(s).unwrap(),
                    aux_dirs: vec![worktree.join("logs"), worktree.join("target")],
                    worktree,
                    branch: format!("slice/{s}"),
                    fallback_base: None,
                }
            })
            .collect();
        let (tx, updates) = mpsc::channel();
        let (files_tx, files) = mpsc::channel();
        let tx = std::sync::Mutex::new(tx);
        let files_tx = std::sync::Mutex::new(files_tx);
        let (refs_tx, refs) = mpsc::channel();
        let refs_tx = std::sync::Mutex::new(refs_tx);
        let diffs = LiveDiffs::start(
            &repo.root.join(".git"),
            super::MAIN,
            targets,
            options,
            (
                Arc::new(move |u| {
                    let _ = tx.lock().unwrap().send(u);
                }),
                Arc::new(move |s| {
                    let _ = files_tx.lock().unwrap().send(s.clone());
                }),
                Arc::new(move || {
                    let _ = refs_tx.lock().unwrap().send(());
                }),
            ),
        )
        .expect("watcher starts");
        let harness = Harness {
            diffs,
            updates,
            files,
            refs,
            latest: Default::default(),
        };
        for _ in slices {
            harness
                .next(Duration::from_secs(10))
                .expect("a first update per slice");
        }
        harness
    }

    impl Harness {
        pub fn next(&self, within: Duration) -> Option<DiffUpdate> {
            let update = self.updates.recv_timeout(within).ok()?;
            self.latest
                .borrow_mut()
                .insert(update.slice.to_string(), update.clone());
            Some(update)
        }

        /// Waits until updates stop, then checks that the slice's live diff
        /// is what a fresh full diff says.
        pub fn settles_to_full(&self, repo: &TestRepo, slice: &str) -> Arc<SliceDiff> {
            while self.next(Duration::from_millis(700)).is_some() {}
            let live = self.latest.borrow()[slice].diff.clone();
            let full = super::source(&repo.worktree(slice)).full().unwrap();
            assert_eq!(
                *live, full,
                "the live diff of {slice} drifted from a full diff"
            );
            live
        }

        /// Waits for an update of `slice` that satisfies `pred`.
        pub fn until(
            &self,
            slice: &str,
            what: &str,
            pred: impl Fn(&DiffUpdate) -> bool,
        ) -> DiffUpdate {
            let deadline = Deadline::after(Duration::from_secs(10));
            while !deadline.passed() {
                if let Some(update) = self.next(deadline.left())
                    && update.slice.as_str() == slice
                    && pred(&update)
                {
                    return update;
                }
            }
            panic!("no update of {slice} where {what} within 10 s");
        }

        /// No update arrives for a while.
        pub fn quiet(&self, what: &str) {
            if let Some(update) = self.next(Duration::from_millis(400)) {
                panic!("{what} caused an update: {update:?}");
            }
        }

        pub fn diff_work(&self) -> u64 {
            let stats = self.diffs.stats();
            stats.full_diffs.load(std::sync::atomic::Ordering::Relaxed)
                + stats.path_diffs.load(std::sync::atomic::Ordering::Relaxed)
        }

        pub fn full_diffs(&self) -> u64 {
            self.diffs
                .stats()
                .full_diffs
                .load(std::sync::atomic::Ordering::Relaxed)
        }

        pub fn files_changed(&self, within: Duration) -> Option<SliceName> {
            self.files.recv_timeout(within).ok()
        }

        /// Whether a branch, a HEAD or an index was said to move within
        /// `within`; the calls before it are taken with it.
        pub fn refs_moved(&self, within: Duration) -> bool {
            let moved = self.refs.recv_timeout(within).is_ok();
            while self.refs.try_recv().is_ok() {}
            moved
        }
    }

    fn has(update: &DiffUpdate, path: &str) -> bool {
        update.diff.files.iter().any(|f| f.path == path)
    }

    #[test]
    fn edits_commits_and_base_moves_reach_the_model_and_ignored_writes_do_not() {
        let repo = TestRepo::new();
        repo.write(".gitignore", "target/\nbuild/\n");
        repo.write("sliceboard.toml", super::common::PLAN);
        repo.commit_all("plan");
        repo.sliceboard(&["up"]).ok();
        let live = start(&repo, &["staging", "marts"], LiveOptions::default());
        let wt = repo.worktree("staging");

        // An edit.
        write_file(&wt.join("models/staging/stg_orders.sql"), "select 1\n");
        let update = live.until("staging", "stg_orders is modified", |u| {
            has(u, "models/staging/stg_orders.sql")
        });
        assert_eq!(update.mode, WatchMode::Events);
        assert_eq!((update.diff.added(), update.diff.removed()), (1, 1));

        // A new folder and a file in it.
        write_file(&wt.join("models/staging/new/stg_a.sql"), "select 'a'\n");
        live.until("staging", "the file in the new folder shows", |u| {
            has(u, "models/staging/new/stg_a.sql")
        });
        write_file(&wt.join("models/staging/new/stg_b.sql"), "select 'b'\n");
        live.until("staging", "a second file in the new folder shows", |u| {
            has(u, "models/staging/new/stg_b.sql")
        });

        // Writes in skipped and ignored folders do no git work at all.
        let work = live.diff_work();
        write_file(&wt.join("target/compiled/shop/x.sql"), "select 1\n");
        write_file(&wt.join("build/out/y.txt"), "y\n");
        write_file(&wt.join("build/out/z.txt"), "z\n");
        live.quiet("writing into target/ and an ignored folder");
        assert_eq!(live.diff_work(), work);

        // `git status` rewrites the index's stat data: checked, not diffed.
        // The index's mtime is set back first, so that the rewrite moves it
        // however coarse the file system's clock.
        let fulls = live.full_diffs();
        let index = repo.root.join(".git/worktrees/staging/index");
        let back = SystemTime::now() - Duration::from_secs(2);
        std::fs::File::options()
            .write(true)
            .open(&index)
            .unwrap()
            .set_modified(back)
            .unwrap();
        write_file(&wt.join("models/staging/stg_users.sql"), "select 2\n");
        live.until("staging", "stg_users is modified", |u| {
            has(u, "models/staging/stg_users.sql")
        });
        let work = live.diff_work();
        let modified = || std::fs::metadata(&index).unwrap().modified().unwrap();
        let before = modified();
        repo.git_in(&wt, &["status", "--porcelain"]);
        assert_ne!(modified(), before, "git status refreshed the index");
        live.quiet("git status");
        assert_eq!((live.full_diffs(), live.diff_work()), (fulls, work));

        // Staging and committing move the index and HEAD: untracked files
        // become tracked, with no full re-diff (the merge base stays).
        let untracked = |u: &DiffUpdate| {
            u.diff
                .files
                .iter()
                .filter(|f| f.stage == Stage::Untracked)
                .count()
        };
        repo.git_in(&wt, &["add", "-A"]);
        repo.git_in(&wt, &["commit", "-q", "-m", "staging work"]);
        let update = live.until("staging", "the new files are tracked", |u| {
            untracked(u) == 0 && has(u, "models/staging/new/stg_b.sql")
        });
        assert_eq!(update.diff.files.len(), 4);
        assert_eq!(live.full_diffs(), fulls);

        // The base branch moves to the slice's tip (it was merged): nothing
        // is left to show.
        let tip = repo.git_in(&wt, &["rev-parse", "HEAD"]);
        repo.git(&["update-ref", "refs/heads/main", &tip]);
        let update = live.until("staging", "the diff is empty", |u| u.diff.files.is_empty());
        assert_eq!(update.diff.base.as_deref(), Some(tip.as_str()));
    }

    /// A commit moves the merge queue (the tips are read again) but not
    /// the file follower, and a dbt log the other way round.
    #[test]
    fn a_commit_moves_the_refs_and_a_dbt_log_the_files_and_neither_the_other() {
        let repo = TestRepo::with_plan();
        repo.sliceboard(&["up"]).ok();
        std::fs::create_dir_all(repo.worktree("marts").join("logs")).unwrap();
        let live = start(&repo, &["marts", "staging"], LiveOptions::default());
        let wt = repo.worktree("marts");
        while live.files_changed(Duration::from_millis(200)).is_some() {}
        live.refs_moved(Duration::from_millis(200));

        repo.commit_in(
            "marts",
            &[("models/marts/new.sql", "select 1\n")],
            "new model",
        );
        assert!(
            live.refs_moved(Duration::from_secs(5)),
            "the commit moved the refs"
        );
        assert_eq!(live.files_changed(Duration::from_millis(500)), None);

        std::fs::write(wt.join("logs/dbt.log"), "12:00:00  Running with dbt=1.11\n").unwrap();
        assert_eq!(
            live.files_changed(Duration::from_secs(5))
                .map(|s| s.to_string()),
            Some("marts".into())
        );
        assert!(
            !live.refs_moved(Duration::from_millis(500)),
            "a log moved no ref"
        );
    }

    /// The engine's resync is also the safety net of those who follow
    /// the slices' files and refs: each is told to read again.
    #[test]
    fn the_resync_tells_the_file_follower_and_the_merge_queue_to_read_again() {
        let repo = TestRepo::with_plan();
        repo.sliceboard(&["up"]).ok();
        let options = LiveOptions {
            resync: Duration::from_millis(700),
            ..LiveOptions::default()
        };
        let live = start(&repo, &["marts", "staging"], options);
        while live.files_changed(Duration::from_millis(100)).is_some() {}
        live.refs_moved(Duration::from_millis(100));
        let mut told = std::collections::BTreeSet::new();
        let mut refs = false;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while (told.len() < 2 || !refs) && std::time::Instant::now() < deadline {
            if let Some(slice) = live.files_changed(Duration::from_millis(50)) {
                told.insert(slice.to_string());
            }
            refs |= live.refs_moved(Duration::from_millis(50));
        }
        assert_eq!(told.len(), 2, "{told:?}");
        assert!(refs, "the queue was told");
    }

    #[test]
    fn dbt_folders_wake_the_file_follower_without_a_diff() {
        let repo = TestRepo::with_plan();
        repo.sliceboard(&["up"]).ok();
        let live = start(&repo, &["marts"], LiveOptions::default());
        let wt = repo.worktree("marts");
        let watches = || {
            live.diffs
                .stats()
                .watches
                .load(std::sync::atomic::Ordering::Relaxed)
        };
        let watched = watches();
        // The folder appears, then a file is written in it.
        std::fs::create_dir_all(wt.join("logs")).unwrap();
        assert_eq!(
            live.files_changed(Duration::from_secs(5))
                .map(|s| s.to_string()),
            Some("marts".into())
        );
        let work = live.diff_work();
        // The new folder's watch lands before anything is written into it.
        poll_until("the new folder watched", WAIT, || watches() > watched);
        while live.files_changed(Duration::from_millis(50)).is_some() {}
        std::fs::write(wt.join("logs/dbt.log"), "12:00:00  Running with dbt=1.11\n").unwrap();
        assert!(live.files_changed(Duration::from_secs(5)).is_some());
        live.quiet("writing dbt's log");
        assert_eq!(live.diff_work(), work);
    }

    #[test]
    fn past_the_watch_budget_a_worktree_is_polled_and_says_so() {
        let repo = TestRepo::with_plan();
        repo.sliceboard(&["up"]).ok();
        let options = LiveOptions {
            max_watches: Some(3),
            poll: Duration::from_millis(200),
            ..LiveOptions::default()
        };
        let live = start(&repo, &["seeds"], options);
        let wt = repo.worktree("seeds");
        write_file(&wt.join("seeds/orders.csv"), "id,user_id\n1,1\n2,2\n");
        let update = live.until("seeds", "the edit shows", |u| has(u, "seeds/orders.csv"));
        let WatchMode::Polling { reason } = &update.mode else {
            panic!("expected polling, got {:?}", update.mode);
        };
        assert!(reason.contains("inotify budget of 3 watches"), "{reason}");
    }

    #[test]
    fn a_worktree_deleted_behind_our_back_is_reported_and_found_again() {
        let repo = TestRepo::with_plan();
        repo.sliceboard(&["up"]).ok();
        let options = LiveOptions {
            poll: Duration::from_millis(200),
            ..LiveOptions::default()
        };
        let live = start(&repo, &["marts"], options);
        let wt = repo.worktree("marts");
        write_file(&wt.join("models/marts/fct_orders.sql"), "select 2\n");
        live.until("marts", "the edit shows", |u| {
            has(u, "models/marts/fct_orders.sql")
        });
        std::fs::remove_dir_all(&wt).unwrap();
        let update = live.until("marts", "the worktree is missing", |u| {
            u.mode == WatchMode::Missing
        });
        assert!(
            update.error.as_deref().unwrap_or("").contains("is gone"),
            "{update:?}"
        );
        repo.git(&["worktree", "prune"]);
        repo.git(&[
            "worktree",
            "add",
            "-q",
            &wt.display().to_string(),
            "slice/marts",
        ]);
        let update = live.until("marts", "the worktree is back", |u| {
            u.mode == WatchMode::Events
        });
        assert!(update.diff.files.is_empty(), "{update:?}");
    }
}

#[test]
fn status_reports_each_diff_and_flags_out_of_slice_and_shared_changes_until_reverted() {
    let repo = TestRepo::with_plan();
    up(&repo);
    let staging = repo.worktree("staging");
    let marts = repo.worktree("marts");
    // staging edits its own model and one of marts'; marts edits the same.
    write_file(&staging.join("models/staging/stg_users.sql"), "select 1\n");
    write_file(&staging.join("models/marts/dim_users.sql"), "select 2\n");
    write_file(&staging.join("notes.txt"), "nobody owns this\n");
    write_file(&marts.join("models/marts/dim_users.sql"), "select 3\n");

    let status = repo.status_json();
    let slice = |name: &str| {
        status["slices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()
            .clone()
    };
    let staging_status = slice("staging");
    assert_eq!(staging_status["diff"]["files_changed"], 3);
    assert_eq!(
        staging_status["diff"]["files"][0],
        serde_json::json!({
            "path": "models/marts/dim_users.sql", "status": "modified", "stage": "tracked",
            "binary": false, "added": 1, "removed": 1
        })
    );
    assert_eq!(
        staging_status["flags"],
        serde_json::json!([
            {"kind": "outside", "path": "models/marts/dim_users.sql", "owners": ["marts"]},
            {"kind": "outside", "path": "notes.txt", "owners": []},
            {"kind": "overlap", "path": "models/marts/dim_users.sql", "other": "marts"},
        ])
    );
    assert_eq!(
        slice("marts")["flags"],
        serde_json::json!([
            {"kind": "overlap", "path": "models/marts/dim_users.sql", "other": "staging"},
        ])
    );
    assert_eq!(slice("seeds")["diff"]["files_changed"], 0);
    assert_eq!(slice("seeds")["flags"], serde_json::json!([]));

    let text = repo.sliceboard(&["status"]).ok();
    assert!(text.contains("3 files +3 -2"), "{text}");
    assert!(
        text.contains("! staging: models/marts/dim_users.sql: also changed by marts"),
        "{text}"
    );

    // Reverting the stray edits clears every flag.
    repo.git_in(&staging, &["checkout", "models/marts/dim_users.sql"]);
    std::fs::remove_file(staging.join("notes.txt")).unwrap();
    let status = repo.status_json();
    for s in status["slices"].as_array().unwrap() {
        assert_eq!(s["flags"], serde_json::json!([]), "{}", s["name"]);
    }
}

mod review {
    //! Sequences that once left the live diff out of step with a full one.

    use std::time::Duration;

    use sliceboard::domain::diff::ChangeKind;
    use sliceboard::watch::LiveOptions;

    use super::common::{TestRepo, write_file};
    use super::live::start;
    use super::up;

    fn paths(diff: &sliceboard::domain::diff::SliceDiff) -> Vec<String> {
        diff.files.iter().map(|f| f.path.clone()).collect()
    }

    #[test]
    fn editing_gitignore_hides_and_reveals_files_and_watches_revealed_folders() {
        let repo = TestRepo::with_plan();
        up(&repo);
        let live = start(&repo, &["staging"], LiveOptions::default());
        let wt = repo.worktree("staging");
        write_file(&wt.join("models/staging/scratch.tmp"), "x\n");
        write_file(&wt.join("out/a.sql"), "select 1\n");
        write_file(&wt.join(".gitignore"), "*.tmp\nout/\n");
        let diff = live.settles_to_full(&repo, "staging");
        assert_eq!(paths(&diff), [".gitignore"]);

        std::fs::remove_file(wt.join(".gitignore")).unwrap();
        let diff = live.settles_to_full(&repo, "staging");
        assert_eq!(paths(&diff), ["models/staging/scratch.tmp", "out/a.sql"]);
        // The folder that was ignored is watched now.
        write_file(&wt.join("out/b.sql"), "select 2\n");
        let diff = live.settles_to_full(&repo, "staging");
        assert!(paths(&diff).contains(&"out/b.sql".to_string()), "{diff:?}");
    }

    #[test]
    fn a_tracked_file_that_gitignore_matches_still_counts() {
        let repo = TestRepo::with_plan();
        repo.write(".gitignore", "*.csv\nlogs/\n");
        repo.write("logs/keep.log", "kept\n");
        repo.git(&["add", "-f", "logs/keep.log", ".gitignore"]);
        repo.git(&["commit", "-q", "-m", "ignore csv, keep one log"]);
        up(&repo);
        let live = start(&repo, &["seeds"], LiveOptions::default());
        let wt = repo.worktree("seeds");
        write_file(&wt.join("seeds/orders.csv"), "id,user_id\n1,1\n2,2\n");
        write_file(&wt.join("logs/keep.log"), "kept\nmore\n");
        // Untracked files in ignored or skipped folders stay out.
        write_file(&wt.join("logs/new.log"), "new\n");
        write_file(&wt.join("models/target/x.sql"), "select 1\n");
        let diff = live.settles_to_full(&repo, "seeds");
        assert_eq!(paths(&diff), ["logs/keep.log", "seeds/orders.csv"]);
    }

    #[test]
    fn a_rename_made_in_two_steps_is_paired_like_a_full_diff_pairs_it() {
        let repo = TestRepo::with_plan();
        up(&repo);
        let live = start(&repo, &["marts"], LiveOptions::default());
        let wt = repo.worktree("marts");
        let body = "select * from {{ ref('stg_orders') }}\n";
        write_file(&wt.join("models/marts/fct_orders_v2.sql"), body);
        live.settles_to_full(&repo, "marts");
        std::fs::remove_file(wt.join("models/marts/fct_orders.sql")).unwrap();
        let diff = live.settles_to_full(&repo, "marts");
        assert_eq!(diff.files.len(), 1);
        assert_eq!(diff.files[0].kind, ChangeKind::Renamed);

        // And the other way round: delete first, create later.
        std::fs::remove_file(wt.join("models/marts/dim_users.sql")).unwrap();
        live.settles_to_full(&repo, "marts");
        write_file(
            &wt.join("models/marts/dim_customers.sql"),
            "select * from {{ ref('stg_users') }}\n",
        );
        let diff = live.settles_to_full(&repo, "marts");
        assert!(
            diff.files.iter().all(|f| f.kind == ChangeKind::Renamed),
            "{diff:?}"
        );
    }

    #[test]
    fn branch_moves_are_seen_after_git_pack_refs_removed_their_folder() {
        let repo = TestRepo::with_plan();
        up(&repo);
        let live = start(&repo, &["staging"], LiveOptions::default());
        let wt = repo.worktree("staging");
        repo.git(&["pack-refs", "--all"]);
        write_file(&wt.join("models/staging/stg_orders.sql"), "select 1\n");
        repo.git_in(&wt, &["commit", "-q", "-am", "one"]);
        live.settles_to_full(&repo, "staging");
        // The base moves on, and the slice's branch is moved onto it from
        // outside: only the branch ref changes (HEAD is symbolic).
        repo.write("seeds/users.csv", "id,name\n1,ada\n2,bob\n");
        repo.commit_all("base moves");
        live.settles_to_full(&repo, "staging");
        let main = repo.git(&["rev-parse", "main"]);
        repo.git(&["update-ref", "refs/heads/slice/staging", &main]);
        let diff = live.settles_to_full(&repo, "staging");
        assert_eq!(diff.base, Some(repo.git(&["rev-parse", "main"])));
    }

    #[test]
    fn a_symlink_to_a_folder_outside_never_leads_the_watcher_out() {
        let repo = TestRepo::with_plan();
        up(&repo);
        let outside = repo.top.join("outside");
        for i in 0..20 {
            std::fs::create_dir_all(outside.join(format!("d{i}"))).unwrap();
        }
        let live = start(&repo, &["staging"], LiveOptions::default());
        let wt = repo.worktree("staging");
        let watches = || {
            live.diffs
                .stats()
                .watches
                .load(std::sync::atomic::Ordering::Relaxed)
        };
        let before = watches();
        std::os::unix::fs::symlink("/nonexistent", wt.join("current")).unwrap();
        std::os::unix::fs::symlink(&outside, wt.join("current.new")).unwrap();
        std::fs::rename(wt.join("current.new"), wt.join("current")).unwrap();
        live.settles_to_full(&repo, "staging");
        assert_eq!(watches(), before);
        // Writing outside the worktree does nothing.
        let work = live.diff_work();
        write_file(&outside.join("d1/x.sql"), "select 1\n");
        // A sleep, not a wait: what is tested is that nothing happens.
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(live.diff_work(), work);
    }
}
