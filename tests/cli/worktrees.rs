//! `up`, `down`, `status` and `env` on real repositories and worktrees.

use crate::common;

use common::TestRepo;

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn up_creates_every_worktree_and_branch_from_the_base() {
    let repo = TestRepo::with_plan();
    let main_tip = repo.git(&["rev-parse", "main"]);
    let out = repo.sliceboard(&["up"]).ok();
    assert!(
        out.contains("3 worktrees created (3 on new branches"),
        "{out}"
    );

    for slice in ["staging", "marts", "seeds"] {
        let worktree = repo.worktree(slice);
        assert!(
            worktree.join("models/staging/stg_orders.sql").exists(),
            "{slice}"
        );
        assert_eq!(
            repo.git_in(&worktree, &["rev-parse", "--abbrev-ref", "HEAD"]),
            format!("slice/{slice}")
        );
        assert_eq!(
            repo.git(&["rev-parse", &format!("slice/{slice}")]),
            main_tip
        );
        // The brief lives in the state dir; the worktree stays clean.
        assert_eq!(repo.git_in(&worktree, &["status", "--porcelain"]), "");
        let brief = read(&repo.state_dir().join(format!("slices/{slice}/brief.md")));
        assert!(brief.contains(&format!("# Slice `{slice}`")), "{brief}");
    }
    let state = repo.state_json();
    assert_eq!(state["schema_version"], 1);
    assert_eq!(state["slices"]["marts"]["lifecycle"], "ready");
    assert_eq!(state["slices"]["marts"]["created_by_sliceboard"], true);
    assert_eq!(state["slices"]["marts"]["base_commit"], main_tip.as_str());
    let journal = read(&repo.state_dir().join("events.jsonl"));
    assert_eq!(
        journal.matches("\"event\":\"worktree_created\"").count(),
        3,
        "{journal}"
    );
}

#[test]
fn a_worktree_gets_its_line_endings_as_git_would_check_them_out() {
    // No attributes: every file as stored, and git agrees the worktree
    // is clean and its index right.
    let repo = TestRepo::with_plan();
    repo.sliceboard(&["up", "staging"]).ok();
    let worktree = repo.worktree("staging");
    assert_eq!(repo.git_in(&worktree, &["status", "--porcelain"]), "");
    let stored = repo.git(&["show", "main:models/staging/stg_orders.sql"]);
    assert_eq!(
        read(&worktree.join("models/staging/stg_orders.sql")).trim_end(),
        stored
    );
    assert_eq!(repo.git_in(&worktree, &["diff", "--stat", "HEAD"]), "");

    // `eol=crlf` for one kind in a folder's .gitattributes: those files
    // get CRLF in the new worktree, as `git worktree add` gives them.
    repo.write("models/marts/.gitattributes", "*.txt text eol=crlf\n");
    repo.write("models/marts/notes.txt", "one\ntwo\n");
    repo.commit_all("line endings");
    repo.sliceboard(&["up", "marts"]).ok();
    let worktree = repo.worktree("marts");
    assert_eq!(
        std::fs::read(worktree.join("models/marts/notes.txt")).unwrap(),
        b"one\r\ntwo\r\n"
    );
    assert_eq!(repo.git_in(&worktree, &["status", "--porcelain"]), "");
}

#[test]
fn a_second_up_changes_nothing() {
    let repo = TestRepo::with_plan();
    repo.sliceboard(&["up"]).ok();
    let snapshot = || {
        (
            read(&repo.state_dir().join("state.json")),
            read(&repo.state_dir().join("events.jsonl")),
            repo.git(&["for-each-ref"]),
            repo.git(&["worktree", "list", "--porcelain"]),
            read(&repo.state_dir().join("slices/marts/brief.md")),
        )
    };
    let before = snapshot();
    let out = repo.sliceboard(&["up"]).ok();
    assert!(out.contains("0 worktrees created"), "{out}");
    assert!(out.contains("3 already there"), "{out}");
    assert_eq!(snapshot(), before);
}

#[test]
fn an_existing_branch_is_reused_never_reset() {
    let repo = TestRepo::with_plan();
    repo.git(&["branch", "slice/marts"]);
    repo.git(&["switch", "-q", "slice/marts"]);
    repo.write("models/marts/fct_orders.sql", "select 42\n");
    repo.commit_all("earlier work on marts");
    let work = repo.git(&["rev-parse", "HEAD"]);
    repo.git(&["switch", "-q", "main"]);

    let out = repo.sliceboard(&["up", "marts"]).ok();
    assert!(out.contains("1 on existing branches"), "{out}");
    assert_eq!(repo.git(&["rev-parse", "slice/marts"]), work);
    assert_eq!(
        read(&repo.worktree("marts").join("models/marts/fct_orders.sql")),
        "select 42\n"
    );
    // Only the named slice was created.
    assert!(!repo.worktree("staging").exists());
}

#[test]
fn down_refuses_uncommitted_work_unless_forced() {
    let repo = TestRepo::with_plan();
    repo.sliceboard(&["up"]).ok();
    let worktree = repo.worktree("staging");
    common::write_file(&worktree.join("models/staging/new.sql"), "select 1\n");

    let err = repo.sliceboard(&["down", "staging"]).fails();
    assert!(
        err.contains("has uncommitted work (0 changed, 1 untracked file)"),
        "{err}"
    );
    assert!(err.contains("--force"), "{err}");
    assert!(worktree.join("models/staging/new.sql").exists());

    let out = repo.sliceboard(&["down", "staging", "--force"]).ok();
    assert!(out.contains("branch slice/staging is kept"), "{out}");
    assert!(!worktree.exists());
    assert_eq!(repo.git(&["worktree", "list"]).lines().count(), 3);
    assert_eq!(
        repo.state_json()["slices"]["staging"]["lifecycle"],
        "removed"
    );
    // `up` brings it back on the same branch.
    repo.sliceboard(&["up", "staging"]).ok();
    assert!(worktree.join("models").exists());
    assert_eq!(repo.state_json()["slices"]["staging"]["lifecycle"], "ready");
}

#[test]
fn down_refuses_commits_not_in_the_integration_branch() {
    let repo = TestRepo::with_plan();
    repo.sliceboard(&["up"]).ok();
    let worktree = repo.worktree("marts");
    common::write_file(&worktree.join("models/marts/fct_orders.sql"), "select 2\n");
    repo.git_in(&worktree, &["commit", "-q", "-am", "migrate marts"]);
    let tip = repo.git(&["rev-parse", "slice/marts"]);

    let err = repo.sliceboard(&["down", "marts"]).fails();
    assert!(
        err.contains("branch slice/marts has 1 commit not in main"),
        "{err}"
    );
    assert!(worktree.exists());

    // Once merged, down goes through without force.
    repo.git(&["merge", "-q", "--ff-only", "slice/marts"]);
    repo.sliceboard(&["down", "marts"]).ok();
    assert!(!worktree.exists());
    assert_eq!(repo.git(&["rev-parse", "slice/marts"]), tip);
}

#[test]
fn forced_down_keeps_the_branch_and_its_commits() {
    let repo = TestRepo::with_plan();
    repo.sliceboard(&["up", "marts"]).ok();
    let worktree = repo.worktree("marts");
    repo.commit_in("marts", &[("models/marts/x.sql", "select 3\n")], "unmerged");
    let tip = repo.git(&["rev-parse", "slice/marts"]);
    repo.sliceboard(&["down", "marts", "--force"]).ok();
    assert!(!worktree.exists());
    assert_eq!(repo.git(&["rev-parse", "slice/marts"]), tip);
}

#[test]
fn a_worktree_sliceboard_did_not_create_is_never_touched() {
    let repo = TestRepo::with_plan();
    // The user made the marts worktree by hand, where sliceboard would.
    let worktree = repo.worktree("marts");
    repo.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "slice/marts",
        worktree.to_str().unwrap(),
    ]);
    // And an unrelated one of their own.
    let theirs = repo.top.join("hotfix");
    repo.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "hotfix",
        theirs.to_str().unwrap(),
    ]);

    let out = repo.sliceboard(&["up"]).ok();
    assert!(out.contains("1 already there"), "{out}");
    for args in [&["down", "marts"][..], &["down", "marts", "--force"][..]] {
        let err = repo.sliceboard(args).fails();
        assert!(
            err.contains("sliceboard did not create the worktree"),
            "{err}"
        );
        assert!(worktree.join("models").exists());
    }
    repo.sliceboard(&["down", "staging"]).ok();
    assert!(theirs.join("models").exists());
    assert!(repo.git(&["worktree", "list"]).contains("hotfix"));
}

#[test]
fn down_prunes_stale_worktree_records() {
    let repo = TestRepo::with_plan();
    repo.sliceboard(&["up"]).ok();
    let stale = repo.top.join("gone");
    repo.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "gone",
        stale.to_str().unwrap(),
    ]);
    std::fs::remove_dir_all(&stale).unwrap();
    assert!(repo.git(&["worktree", "list"]).contains("gone"));
    repo.sliceboard(&["down", "seeds"]).ok();
    assert!(!repo.git(&["worktree", "list"]).contains("gone"));
}

#[test]
fn status_reports_a_worktree_removed_behind_our_back() {
    let repo = TestRepo::with_plan();
    repo.sliceboard(&["up"]).ok();
    std::fs::remove_dir_all(repo.worktree("staging")).unwrap();

    let out = repo.sliceboard(&["status"]).ok();
    assert!(
        out.contains(&format!(
            "! staging: worktree {} was removed outside sliceboard",
            repo.worktree("staging").display()
        )),
        "{out}"
    );
    let json = repo.status_json();
    let staging = &json["slices"][0];
    assert_eq!(staging["name"], "staging");
    assert_eq!(staging["worktree_exists"], false);
    assert_eq!(staging["problems"][0]["kind"], "worktree_missing");

    // `up` repairs it from the branch, and the problem goes away.
    let up = repo.sliceboard(&["up"]);
    assert!(up.stderr.contains("found: staging: worktree"), "{up:#?}");
    up.ok();
    assert!(repo.worktree("staging").join("models").exists());
    let out = repo.sliceboard(&["status"]).ok();
    assert!(!out.contains('!'), "{out}");
}

#[test]
fn status_reports_a_branch_rewritten_or_deleted_behind_our_back() {
    let repo = TestRepo::with_plan();
    let first = repo.git(&["rev-parse", "HEAD~1"]);
    repo.sliceboard(&["up"]).ok();
    repo.git_in(&repo.worktree("marts"), &["reset", "-q", "--hard", &first]);
    repo.sliceboard(&["down", "--force", "seeds"]).ok();
    repo.git(&["branch", "-D", "slice/seeds"]);

    let json = repo.status_json();
    let kinds = |i: usize| -> Vec<String> {
        json["slices"][i]["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["kind"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(json["slices"][1]["name"], "marts");
    assert_eq!(kinds(1), ["branch_rewritten"]);
    assert_eq!(kinds(2), ["branch_missing"]);
    assert_eq!(kinds(0), Vec::<String>::new());
}

#[test]
fn status_counts_commits_ahead_and_dirty_files() {
    let repo = TestRepo::with_plan();
    repo.sliceboard(&["up"]).ok();
    let worktree = repo.worktree("staging");
    common::write_file(
        &worktree.join("models/staging/stg_orders.sql"),
        "select 1\n",
    );
    repo.git_in(&worktree, &["commit", "-q", "-am", "one"]);
    common::write_file(&worktree.join("models/staging/stg_users.sql"), "select 2\n");
    common::write_file(&worktree.join("models/staging/new.sql"), "select 3\n");

    let out = repo.sliceboard(&["status"]).ok();
    let line = out.lines().find(|l| l.starts_with("staging")).unwrap();
    let cells: Vec<&str> = line
        .split("  ")
        .filter(|c| !c.is_empty())
        .map(str::trim)
        .collect();
    assert_eq!(
        cells,
        [
            "staging",
            "ready",
            "-",
            "slice/staging",
            "+1",
            "dirty (1 changed, 1 untracked)",
            "3 files +3 -2",
            "-",
            "-",
            "-"
        ]
    );

    let json = repo.status_json();
    let staging = &json["slices"][0];
    assert_eq!(staging["ahead"], 1);
    assert_eq!(staging["behind"], 0);
    assert_eq!(staging["dirty"], true);
    assert_eq!(staging["changed_files"], 1);
    assert_eq!(staging["untracked_files"], 1);
    assert_eq!(json["slices"][1]["dirty"], false);
}

#[test]
fn env_prints_lines_a_shell_can_eval() {
    let repo = TestRepo::with_plan();
    let script = format!(
        "eval \"$({} env marts)\" && printf '%s|%s|%s|%s|%s' \"$SLICEBOARD_SLICE\" \"$SLICEBOARD_BRANCH\" \"$SLICEBOARD_WORKTREE\" \"$SLICEBOARD_DBT_TARGET\" \"$SLICEBOARD_OWNS\"",
        common::BIN
    );
    let out = repo
        .command("sh", &repo.root)
        .args(["-c", &script])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "marts|slice/marts|{}|dev_marts|models/marts/**",
            repo.worktree("marts").display()
        )
    );
    // The brief exists and is named by the environment.
    let brief = repo.state_dir().join("slices/marts/brief.md");
    assert!(read(&brief).contains("- `staging`: `models/staging/**`"));
}

#[test]
fn path_and_shell_take_you_into_a_slice_with_its_environment() {
    let repo = TestRepo::with_plan();
    // No worktree yet: said, with what to do.
    let missing = repo.sliceboard(&["path", "marts"]).fails();
    assert!(missing.contains("sliceboard up marts"), "{missing}");
    repo.sliceboard(&["up"]).ok();
    let worktree = repo.worktree("marts");
    assert_eq!(
        repo.sliceboard(&["path", "marts"]).ok(),
        format!("{}\n", worktree.display())
    );
    let out = repo
        .sliceboard(&[
            "shell",
            "marts",
            "--",
            "sh",
            "-c",
            "printf '%s|%s|%s' \"$(pwd)\" \"$SLICEBOARD_SLICE\" \"$SLICEBOARD_DBT_TARGET\"",
        ])
        .ok();
    assert_eq!(out, format!("{}|marts|dev_marts", worktree.display()));
    // With no command, the user's shell, reading what it is given.
    let mut shell = repo.command(common::BIN, &repo.root);
    shell
        .args(["shell", "staging"])
        .env("SHELL", "/bin/sh")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = shell.spawn().unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"echo \"$SLICEBOARD_SLICE in $(pwd)\"\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("staging in {}\n", repo.worktree("staging").display())
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("a shell in staging's worktree"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn commands_work_from_inside_a_slice_worktree() {
    let repo = TestRepo::with_plan();
    repo.sliceboard(&["up"]).ok();
    let out = repo
        .sliceboard_in(&repo.worktree("marts"), &["status"])
        .ok();
    assert!(out.contains("marts    ready"), "{out}");
}

/// An `up` killed inside `git worktree add` leaves a folder holding only
/// its `.git` file and a record of git's without a HEAD (a `HEAD.lock`):
/// the next `up` removes both, makes the worktree again and says so.
#[test]
fn up_redoes_a_worktree_an_interrupted_up_left_half_made() {
    let repo = TestRepo::with_plan();
    let path = repo.worktree("staging");
    repo.git(&[
        "worktree",
        "add",
        "--no-checkout",
        "-b",
        "slice/staging",
        path.to_str().unwrap(),
    ]);
    let record = repo.root.join(".git/worktrees/staging");
    std::fs::remove_file(record.join("HEAD")).unwrap();
    std::fs::write(record.join("HEAD.lock"), "").unwrap();
    let names: Vec<_> = std::fs::read_dir(&path)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names, [".git"]);

    let run = repo.sliceboard(&["up", "staging"]);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert_eq!(run.code, Some(0), "{said}");
    assert!(said.contains("half-made worktree"), "{said}");
    assert!(path.join("models/staging/stg_orders.sql").is_file());
    assert_eq!(
        repo.git_in(&path, &["rev-parse", "--abbrev-ref", "HEAD"]),
        "slice/staging"
    );
    // A folder with anything else in it is never taken for half-made.
    let other = repo.worktree("marts");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "mine").unwrap();
    let err = repo.sliceboard(&["up", "marts"]).fails();
    assert!(err.contains("already exists"), "{err}");
    assert!(other.join("notes.txt").is_file());
}
