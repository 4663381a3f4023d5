//! Live diffs on real repositories and worktrees: every kind of change,
//! refresh driven by file events, ownership and overlap flags.

mod common;

use std::path::Path;

use common::{TestRepo, write_file};
use sliceboard::domain::diff::{ChangeKind, SliceDiff, Stage};
use sliceboard::git::DiffSource;

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
    DiffSource::open(worktree, "main", None, true).expect("worktree opens")
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
    // Binary.
    std::fs::write(
        wt.join("models/staging/logo.png"),
        [0u8, 159, 146, 150, 0, 1],
    )
    .unwrap();

    let diff = source(&wt).full().unwrap();
    let m = repo.git(&["merge-base", "main", "slice/staging"]);
    assert_eq!(diff.base.as_deref(), Some(m.as_str()));
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
