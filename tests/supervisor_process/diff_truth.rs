//! A slice's diff and flags stay its own and stay true, in the real binary
//! with its supervisor: after the slice merged the integration branch in
//! (which is not the base), while `down` and `up` race over worktrees, and
//! while the plan's slices are renamed and back. The board is read as a
//! dashboard reads it, over the socket; every wait polls to a deadline.

use crate::common;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Instant;

use common::supervised::*;
use common::{Plan, TestRepo, slice_status, write_file};
use sliceboard::domain::board::SliceRow;
use sliceboard::domain::ownership::PathFlag;

/// The paths a board row's diff shows.
fn shown(row: &SliceRow) -> BTreeSet<String> {
    row.diff
        .as_ref()
        .map(|d| d.paths().map(str::to_owned).collect())
        .unwrap_or_default()
}

fn flag_paths(row: &SliceRow) -> BTreeSet<String> {
    row.flags.iter().map(|f| f.path().to_owned()).collect()
}

const MERGING: &str = r#"base = "main"
integration = "integration"

[agent]
command = "cat"

[[slice]]
name = "orders"
owns = ["orders/**"]

[[slice]]
name = "users"
owns = ["users/**"]
"#;

#[test]
fn a_slice_that_merged_the_integration_branch_in_shows_only_its_own_changes() {
    let repo = TestRepo::with_plan_text(MERGING);
    repo.sliceboard(&["up"]).ok();
    let _sup = Supervise::start(&repo, &[]);
    let mut dash = Dashboard::connect(&repo.socket());

    repo.commit_in(
        "orders",
        &[
            ("orders/fct_orders.sql", "select 1 as id\n"),
            ("orders/stg_orders.sql", "select 2 as id\n"),
            ("orders/schema.yml", "version: 2\n"),
        ],
        "orders models",
    );
    // One file of users' own, and one outside every slice.
    repo.commit_in(
        "users",
        &[
            ("users/dim_users.sql", "select 1 as id\n"),
            ("docs/users.md", "# users\n"),
        ],
        "users model",
    );
    sliceboard(&repo, &["approve", "orders", "--force"]).ok();
    let said = sliceboard(&repo, &["merge", "orders"]).ok();
    assert!(said.contains("merged orders into integration"), "{said}");
    assert_ne!(
        repo.git(&["rev-parse", "integration"]),
        repo.git(&["rev-parse", "main"]),
        "the integration branch is ahead of the base"
    );

    // As the feedback prompt asks: users merges the integration branch in.
    repo.git_in(
        &repo.worktree("users"),
        &["merge", "-q", "--no-edit", "integration"],
    );
    let own: BTreeSet<String> = ["docs/users.md", "users/dim_users.sql"]
        .map(str::to_owned)
        .into();
    let outside = vec![PathFlag::Outside {
        path: "docs/users.md".into(),
        owners: vec![],
    }];
    // Everything orders made is in the integration branch: nothing is left
    // of it to show or flag.
    dash.wait_until(
        "users' own two files and one flag; nothing shown or flagged on orders",
        |d| {
            shown(d.row("users")) == own
                && d.row("users").flags == outside
                && shown(d.row("orders")).is_empty()
                && d.row("orders").flags.is_empty()
        },
    );

    let json = status_json(&repo);
    let users = slice_status(&json, "users");
    let files: BTreeSet<String> = users["diff"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(files, own, "{users:#}");
    assert_eq!(
        users["flags"],
        serde_json::json!([{"kind": "outside", "path": "docs/users.md", "owners": []}])
    );
    assert_eq!(
        slice_status(&json, "orders")["flags"],
        serde_json::json!([])
    );

    // Approval names only users' own concern, nothing upstream brought.
    let said = sliceboard(&repo, &["approve", "users"]).fails();
    let why = said.split_once("error:").map_or("", |(_, why)| why);
    assert!(why.contains("docs/users.md"), "{said}");
    assert!(!why.contains("orders/"), "{said}");
}

/// Five slices over their own folders of files; `a`, `b` and `c` have work
/// in progress, `d` and `e` go down (forced: they get work too) and up.
fn racing_repo() -> TestRepo {
    let mut plan = Plan::new("cat");
    let repo = TestRepo::new();
    for slice in ["a", "b", "c", "d", "e"] {
        plan = plan.slice(slice, &[&format!("area_{slice}/**")], &[]);
        for folder in 0..4 {
            for file in 0..8 {
                repo.write(
                    &format!("area_{slice}/f{folder}/m{file}.sql"),
                    &format!("select {folder}{file} as id\n"),
                );
            }
        }
    }
    repo.write("sliceboard.toml", &plan.to_string());
    repo.commit_all("areas");
    repo
}

/// The paths git reports changed or new in a worktree: with no commits on the
/// slice's branch, exactly what its diff must show.
fn git_paths(repo: &TestRepo, slice: &str) -> BTreeSet<String> {
    let worktree = repo.worktree(slice);
    if !worktree.exists() {
        return BTreeSet::new();
    }
    let out = repo.git_in(
        &worktree,
        &["ls-files", "--modified", "--others", "--exclude-standard"],
    );
    out.lines().map(str::to_owned).collect()
}

#[test]
fn down_and_up_at_once_leave_no_slice_showing_files_its_worktree_lacks() {
    let repo = racing_repo();
    repo.sliceboard(&["up"]).ok();
    for slice in ["a", "b", "c"] {
        let worktree = repo.worktree(slice);
        write_file(
            &worktree.join(format!("area_{slice}/f0/m0.sql")),
            "select 'changed' as id\n",
        );
        write_file(
            &worktree.join(format!("area_{slice}/new.sql")),
            "select 'new' as id\n",
        );
    }
    let _sup = Supervise::start(&repo, &[]);
    let mut dash = Dashboard::connect(&repo.socket());

    for round in 0..6 {
        let slice = ["d", "e"][round % 2];
        let mut down = repo.command(common::BIN, &repo.root);
        down.args(["down", slice, "--force"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut up = repo.command(common::BIN, &repo.root);
        up.args(["up"]).stdout(Stdio::null()).stderr(Stdio::null());
        within("down and up at once", move || {
            let mut down = down.spawn().unwrap();
            let mut up = up.spawn().unwrap();
            down.wait().unwrap();
            up.wait().unwrap();
        });
        // Work done in the worktree that came back (or stayed) is seen:
        // its folders are watched again.
        let worktree = repo.worktree(slice);
        if worktree.exists() {
            write_file(
                &worktree.join(format!("area_{slice}/f{}/m1.sql", round % 4)),
                &format!("select {round} as round\n"),
            );
            write_file(
                &worktree.join(format!("area_{slice}/f3/round{round}.sql")),
                "select 1 as id\n",
            );
        }
        let truth: Vec<(&str, BTreeSet<String>)> = ["a", "b", "c", "d", "e"]
            .into_iter()
            .map(|s| (s, git_paths(&repo, s)))
            .collect();
        assert_eq!(truth[0].1.len(), 2, "a's work is untouched: {truth:?}");
        let started = Instant::now();
        let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            dash.wait_until(
                &format!("round {round}: every slice's diff and flags as git sees its worktree ({truth:?})"),
                |d| {
                    truth.iter().all(|(slice, paths)| {
                        let row = d.row(slice);
                        shown(row) == *paths && flag_paths(row).is_subset(paths)
                    })
                },
            );
        }));
        if let Err(panic) = waited {
            for (slice, _) in &truth {
                let row = dash.row(slice);
                eprintln!(
                    "{slice}: shows {:?} ({:?}, {:?}), flags {:?}",
                    shown(row),
                    row.diff_mode,
                    row.diff_error,
                    row.flags
                );
            }
            std::panic::resume_unwind(panic);
        }
        eprintln!("round {round}: converged in {:?}", started.elapsed());
    }

    // A worktree that goes for good takes its diff and flags with it.
    sliceboard(&repo, &["up"]).ok();
    write_file(
        &repo.worktree("d").join("area_a/f0/m0.sql"),
        "select 'd was here' as id\n",
    );
    dash.wait_until("d's change to a's file, flagged", |d| {
        !d.row("d").flags.is_empty() && !d.row("a").flags.is_empty()
    });
    sliceboard(&repo, &["down", "d", "--force"]).ok();
    dash.wait_until("d gone: no files, no flags on d or a", |d| {
        shown(d.row("d")).is_empty() && d.row("d").flags.is_empty() && d.row("a").flags.is_empty()
    });
}

#[test]
fn flags_follow_the_plan_in_force_through_an_edit_a_rename_and_back() {
    let f = Fixture::new(&[], &[]);
    let mut dash = Dashboard::connect(&f.socket());
    write_file(
        &f.repo
            .worktree("staging")
            .join("models/staging/stg_items.sql"),
        "select 1 as id\n",
    );
    dash.wait_until("staging's new file, owned, unflagged", |d| {
        shown(d.row("staging")).contains("models/staging/stg_items.sql")
    });
    assert_eq!(dash.row("staging").flags, vec![]);

    // Its `owns` narrowed: the same diff is now outside the slice.
    let original = plan(&[]);
    let narrowed = original.replacen(
        "owns = [\"models/staging/**\"]",
        "owns = [\"models/staging/*.yml\"]",
        1,
    );
    assert_ne!(narrowed, original);
    f.repo.save_plan(&narrowed);
    dash.wait_until("staging's file flagged outside the narrowed slice", |d| {
        d.row("staging").flags
            == vec![PathFlag::Outside {
                path: "models/staging/stg_items.sql".into(),
                owners: vec![],
            }]
    });

    // Renamed: the old name is removed from the plan, owns nothing and is
    // flagged for nothing; the new name owns the folder.
    f.repo
        .save_plan(&original.replacen("name = \"staging\"", "name = \"stage\"", 1));
    dash.wait_until("staging removed from the plan, with no flags", |d| {
        d.row("staging").removed && d.row("staging").flags.is_empty()
    });
    let json = status_json(&f.repo);
    assert_eq!(slice_status(&json, "staging")["in_plan"], false);
    assert_eq!(
        slice_status(&json, "staging")["flags"],
        serde_json::json!([])
    );

    // And back: no flag is left of either plan.
    f.repo.save_plan(&original);
    dash.wait_until("staging back in the plan, with no flags", |d| {
        let row = d.row("staging");
        !row.removed && row.flags.is_empty()
    });
    assert!(
        dash.board.slices.iter().all(|r| r.flags.is_empty()),
        "{:?}",
        dash.board.slices
    );
    let json = status_json(&f.repo);
    assert_eq!(
        slice_status(&json, "staging")["flags"],
        serde_json::json!([])
    );
}

/// The parts of `status --json` that say what a slice's worktree and
/// branch hold (not the agent, which only a supervisor knows).
fn worktree_facts(status: &serde_json::Value) -> Vec<serde_json::Value> {
    status["slices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            serde_json::json!({
                "name": s["name"], "state": s["state"], "head_commit": s["head_commit"],
                "ahead": s["ahead"], "behind": s["behind"], "dirty": s["dirty"],
                "changed_files": s["changed_files"], "untracked_files": s["untracked_files"],
                "diff": s["diff"], "flags": s["flags"], "problems": s["problems"],
                "dbt": s["dbt"], "merge": s["merge"], "setup": s["setup"],
            })
        })
        .collect()
}

#[test]
fn status_through_the_supervisor_says_what_status_without_one_says_and_follows_the_worktree() {
    let repo = TestRepo::with_plan_text(MERGING);
    repo.sliceboard(&["up"]).ok();
    // orders: a commit, then the same file changed again, a new file and
    // one outside what it owns; users: a commit undone in the worktree
    // (the file is as on the base again, but not as at HEAD: uncommitted).
    repo.commit_in("orders", &[("orders/a.sql", "select 1\n")], "a");
    let orders = repo.worktree("orders");
    write_file(&orders.join("orders/a.sql"), "select 2\n");
    write_file(&orders.join("orders/new.sql"), "select 3\n");
    write_file(&orders.join("users/stray.sql"), "select 4\n");
    repo.commit_in("users", &[("users/u.sql", "select 1\n")], "u");
    std::fs::remove_file(repo.worktree("users").join("users/u.sql")).unwrap();

    let direct = status_json(&repo);
    let facts = worktree_facts(&direct);
    assert_eq!(facts[0]["changed_files"], 1, "{:#}", facts[0]);
    assert_eq!(facts[0]["untracked_files"], 2, "{:#}", facts[0]);
    assert_eq!(facts[1]["changed_files"], 1, "{:#}", facts[1]);

    let _sup = Supervise::start(&repo, &[]);
    let mut dash = Dashboard::connect(&repo.socket());
    dash.wait_until("both live diffs read", |d| {
        d.row("orders").diff.is_some() && d.row("users").diff.is_some()
    });
    let through = status_json(&repo);
    assert_eq!(worktree_facts(&through), facts);
    assert!(
        through["slices"][0]["agent"].is_object(),
        "the supervisor's answer carries the agent: {:#}",
        through["slices"][0]
    );

    // A file added a moment ago is in the very next answer, quiet time
    // or not.
    for n in 3..6 {
        write_file(&orders.join(format!("orders/newer{n}.sql")), "select 5\n");
        let now = status_json(&repo);
        assert_eq!(
            now["slices"][0]["untracked_files"], n,
            "{:#}",
            now["slices"][0]
        );
        assert_eq!(now["slices"][0]["diff"]["files_changed"], n + 1);
    }
}

/// A `down` asked for while the supervisor's `up` checks the same slice's
/// worktree out waits for it: the two never interleave, so the folder and
/// git's record of it go or stay together. (Before, the `down` removed the
/// record while the checkout still wrote files, and left a folder no git
/// command worked in.)
#[test]
fn a_down_asked_for_during_the_same_slices_checkout_waits_for_it() {
    let repo = TestRepo::new();
    repo.write(
        "sliceboard.toml",
        &Plan::new("cat").slice("big", &["big/**"], &[]).to_string(),
    );
    for folder in 0..40 {
        for file in 0..150 {
            repo.write(&format!("big/f{folder}/m{file}.sql"), "select 1 as id\n");
        }
    }
    repo.commit_all("a large slice");
    repo.sliceboard(&["up"]).ok();
    let _sup = Supervise::start(&repo, &[]);
    let worktree = repo.worktree("big");
    let record = repo.root.join(".git/worktrees/big");
    for round in 0..3 {
        // Gone behind sliceboard's back, so `up` makes it again.
        std::fs::remove_dir_all(&worktree).unwrap();
        repo.git(&["worktree", "prune"]);
        assert!(!record.exists());

        let mut up = repo.command(common::BIN, &repo.root);
        up.args(["up"]).stdout(Stdio::null()).stderr(Stdio::null());
        let mut down = repo.command(common::BIN, &repo.root);
        down.args(["down", "big", "--force"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let record_head = record.join("HEAD");
        within("a down during up's checkout", move || {
            let mut up = up.spawn().unwrap();
            // The record is whole from here on; the checkout runs.
            while !record_head.exists() {
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            let mut down = down.spawn().unwrap();
            down.wait().unwrap();
            up.wait().unwrap();
        });
        if worktree.exists() {
            assert!(record.exists(), "round {round}: a folder with no record");
            let files = repo.git_in(&worktree, &["ls-files"]);
            assert_eq!(files.lines().count(), 6000, "round {round}");
            assert_eq!(repo.git_in(&worktree, &["status", "--porcelain"]), "");
        } else {
            assert!(!record.exists(), "round {round}: a record with no folder");
        }
        eprintln!("round {round}: folder there: {}", worktree.exists());
        if !worktree.exists() {
            repo.sliceboard(&["up", "big"]).ok();
        }
    }
}

/// What `approve` says of a worktree's uncommitted work, as counts.
fn refused_counts(repo: &TestRepo) -> Option<String> {
    let said = sliceboard(repo, &["approve", "orders", "--force"]);
    if said.code == Some(0) {
        sliceboard(repo, &["withdraw", "orders"]).ok();
        return None;
    }
    let text = said.stderr;
    let counts = text
        .split_once("uncommitted work (")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(counts, _)| counts.to_owned());
    Some(counts.unwrap_or_else(|| panic!("refused for another reason: {text}")))
}

#[test]
fn an_approval_reads_the_work_written_a_moment_before_it_as_the_whole_status_does() {
    let repo = TestRepo::with_plan_text(MERGING);
    repo.write("orders/base.sql", "select 0 as id\n");
    repo.write("orders/gone.sql", "select 9 as id\n");
    repo.write(".gitignore", "target/\n");
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "base files"]);
    repo.sliceboard(&["up"]).ok();
    let _sup = Supervise::start(&repo, &[]);
    let mut dash = Dashboard::connect(&repo.socket());
    let worktree = repo.worktree("orders");
    repo.commit_in(
        "orders",
        &[
            ("orders/fct_orders.sql", "select 1 as id\n"),
            ("orders/base.sql", "select 1 as id\n"),
        ],
        "orders models",
    );
    dash.wait_until("orders' committed diff", |d| {
        shown(d.row("orders")).contains("orders/fct_orders.sql")
    });
    let whole = || {
        sliceboard::git::GitRepo::dirt(&worktree)
            .map(|d| format!("{} changed, {} untracked", d.changed, d.untracked))
            .unwrap()
    };
    // Each change is asked about at once, before the live diff's quiet
    // time has passed; then taken back.
    // What changes, how, and how it is taken back.
    type Change<'a> = (&'a str, &'a dyn Fn(), &'a dyn Fn());
    let changes: [Change<'_>; 9] = [
        (
            "a committed file edited",
            &|| write_file(&worktree.join("orders/fct_orders.sql"), "select 2\n"),
            &|| {
                repo.git_in(&worktree, &["checkout", "--", "orders/fct_orders.sql"]);
            },
        ),
        (
            "a file the commit changed put back as the base has it",
            &|| write_file(&worktree.join("orders/base.sql"), "select 0 as id\n"),
            &|| {
                repo.git_in(&worktree, &["checkout", "--", "orders/base.sql"]);
            },
        ),
        (
            "a new file, and a file of the base deleted",
            &|| {
                write_file(&worktree.join("orders/new.sql"), "select 3\n");
                std::fs::remove_file(worktree.join("orders/gone.sql")).unwrap();
            },
            &|| {
                std::fs::remove_file(worktree.join("orders/new.sql")).unwrap();
                repo.git_in(&worktree, &["checkout", "--", "orders/gone.sql"]);
            },
        ),
        (
            "a change staged",
            &|| {
                write_file(&worktree.join("users/dim.sql"), "select 4\n");
                repo.git_in(&worktree, &["add", "users/dim.sql"]);
            },
            &|| {
                repo.git_in(&worktree, &["rm", "-q", "--cached", "users/dim.sql"]);
                std::fs::remove_file(worktree.join("users/dim.sql")).unwrap();
            },
        ),
        (
            "a file the commit added deleted, another edited",
            &|| {
                std::fs::remove_file(worktree.join("orders/fct_orders.sql")).unwrap();
                write_file(&worktree.join("orders/base.sql"), "select 5\n");
            },
            &|| {
                repo.git_in(
                    &worktree,
                    &["checkout", "--", "orders/fct_orders.sql", "orders/base.sql"],
                );
            },
        ),
        (
            "a change staged, then taken back in the file only",
            &|| {
                write_file(&worktree.join("orders/gone.sql"), "select 8\n");
                repo.git_in(&worktree, &["add", "orders/gone.sql"]);
                write_file(&worktree.join("orders/gone.sql"), "select 9 as id\n");
            },
            &|| {
                repo.git_in(&worktree, &["reset", "-q", "--", "orders/gone.sql"]);
            },
        ),
        (
            "a tracked file taken out of the index, left on disk",
            &|| {
                repo.git_in(&worktree, &["rm", "-q", "--cached", "orders/gone.sql"]);
            },
            &|| {
                repo.git_in(&worktree, &["reset", "-q", "--", "orders/gone.sql"]);
            },
        ),
        (
            "a new file in a folder live diffs leave out (`logs`)",
            &|| write_file(&worktree.join("orders/logs/handler.sql"), "select 6\n"),
            &|| std::fs::remove_dir_all(worktree.join("orders/logs")).unwrap(),
        ),
        (
            "a new file in an ignored folder (`target`): no work",
            &|| write_file(&worktree.join("orders/target/run.sql"), "select 7\n"),
            &|| std::fs::remove_dir_all(worktree.join("orders/target")).unwrap(),
        ),
    ];
    for (what, change, undo) in changes {
        change();
        let expected = whole();
        let refused = (expected != "0 changed, 0 untracked").then_some(expected);
        assert_eq!(refused_counts(&repo), refused, "{what}");
        undo();
        assert_eq!(whole(), "0 changed, 0 untracked", "{what}: undone");
        assert_eq!(refused_counts(&repo), None, "{what}: undone");
    }
}

/// Past the watch budget a worktree is diffed every few seconds only; an
/// approval still reads it as it is at that moment, not at its last poll.
#[test]
fn an_approval_reads_a_polled_worktree_as_it_is_now() {
    let repo = TestRepo::with_plan_text(MERGING);
    repo.sliceboard(&["up"]).ok();
    // Too few watches for any worktree: every one is polled.
    let _sup = Supervise::start(&repo, &[("SLICEBOARD_MAX_WATCHES", "1")]);
    let mut dash = Dashboard::connect(&repo.socket());
    let worktree = repo.worktree("orders");
    repo.commit_in(
        "orders",
        &[("orders/fct_orders.sql", "select 1 as id\n")],
        "orders",
    );
    dash.wait_until("orders' commit, polled", |d| {
        let row = d.row("orders");
        matches!(
            row.diff_mode,
            sliceboard::domain::diff::WatchMode::Polling { .. }
        ) && shown(row).contains("orders/fct_orders.sql")
    });
    // Asked at once: the next poll is up to seconds away.
    write_file(&worktree.join("orders/fct_orders.sql"), "select 2\n");
    write_file(&worktree.join("orders/new.sql"), "select 3\n");
    assert_eq!(
        refused_counts(&repo).as_deref(),
        Some("1 changed, 1 untracked")
    );
}
