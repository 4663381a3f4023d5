//! State survives crashes and concurrent processes: `state.json` always
//! parses while a writer is killed mid-write, and a second process is told
//! who holds the lock while nothing gets corrupted.
//!
//! The helper processes are this test binary itself, re-run with an
//! environment variable that turns one ignored test into the helper.

use crate::common;

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::TestRepo;
use sliceboard::domain::{Lifecycle, SliceName};
use sliceboard::store::{SliceRecord, State, StateLock, load_state, save_state};

const WRITER_DIR: &str = "SLICEBOARD_TEST_WRITER_DIR";
const LOCKER_FILE: &str = "SLICEBOARD_TEST_LOCKER_FILE";

/// Starts this test binary running only `test_name` (a test of this
/// module), as a helper.
fn helper(test_name: &str, var: &str, value: &Path) -> Child {
    // libtest names a test by its module path less the crate's name.
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let test_name = if module.is_empty() {
        test_name.to_owned()
    } else {
        format!("{module}::{test_name}")
    };
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            &test_name,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(var, value)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("helper starts")
}

/// Reads the helper's output until it prints `marker` (libtest prints its
/// `test NAME ... ` before it, on the same line).
fn wait_for(child: &mut Child, marker: &str) {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    loop {
        match lines.next() {
            Some(Ok(line)) if line.trim_end().ends_with(marker) => return,
            Some(Ok(_)) => continue,
            other => panic!("helper ended before printing {marker:?}: {other:?}"),
        }
    }
}

fn state_with(slices: usize, generation: usize) -> State {
    let mut state = State::default();
    for i in 0..slices {
        state.slices.insert(
            SliceName::parse(&format!("slice-{i:03}")).unwrap(),
            SliceRecord {
                lifecycle: Lifecycle::Active,
                branch: format!("slice/slice-{i:03}"),
                worktree: PathBuf::from(format!("/work/shop.slices/slice-{i:03}")),
                worktree_name: format!("slice-{i:03}"),
                created_by_sliceboard: true,
                base_commit: format!("{generation:040}"),
                last_seen_tip: Some(format!("{:040}", generation + i)),
                approvals: Vec::new(),
                merged: None,
                attention: None,
                upstream_merged: Vec::new(),
                ports: Default::default(),
                updated_at: jiff::Timestamp::UNIX_EPOCH,
            },
        );
    }
    state
}

/// Helper: rewrites a large state over and over until killed.
#[test]
#[ignore = "helper process for state_json_always_parses_while_a_writer_is_killed"]
fn helper_state_writer() {
    let Some(dir) = std::env::var_os(WRITER_DIR) else {
        return;
    };
    let path = Path::new(&dir).join("state.json");
    println!("writing");
    for generation in 0.. {
        // Between 50 and 400 slices, so the file grows and shrinks.
        save_state(&path, &state_with(50 + generation % 350, generation)).unwrap();
    }
}

#[test]
fn state_json_always_parses_while_a_writer_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    save_state(&path, &state_with(10, 0)).unwrap();
    let mut seen_sizes = BTreeMap::new();
    for round in 0..40u64 {
        let mut child = helper("helper_state_writer", WRITER_DIR, dir.path());
        wait_for(&mut child, "writing");
        // Kill at varied moments inside the write loop: the sleep is the
        // moment chosen, not a wait for anything.
        std::thread::sleep(Duration::from_millis(5 + (round * 7) % 60));
        child.kill().unwrap();
        child.wait().unwrap();
        let state = load_state(&path).unwrap_or_else(|err| panic!("round {round}: {err}"));
        assert_eq!(state.schema_version, 1);
        *seen_sizes.entry(state.slices.len()).or_insert(0) += 1;
    }
    // The writer really was interrupted at different points.
    assert!(seen_sizes.len() > 1, "{seen_sizes:?}");
    // Temporaries of killed writers are cleaned up by the next write.
    save_state(&path, &state_with(1, 0)).unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != "state.json")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Helper: takes the state lock, says so, and holds it until killed.
#[test]
#[ignore = "helper process for a_second_process_is_told_who_holds_the_lock"]
fn helper_lock_holder() {
    let Some(file) = std::env::var_os(LOCKER_FILE) else {
        return;
    };
    let _lock = StateLock::acquire(Path::new(&file), "sliceboard dashboard").unwrap();
    println!("locked");
    // Held, not waited for: the test kills this helper long before.
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn a_second_process_is_told_who_holds_the_lock() {
    let repo = TestRepo::with_plan();
    repo.sliceboard(&["up", "staging"]).ok();
    let state_before = std::fs::read(repo.state_dir().join("state.json")).unwrap();

    let mut holder = helper(
        "helper_lock_holder",
        LOCKER_FILE,
        &repo.state_dir().join("lock"),
    );
    wait_for(&mut holder, "locked");

    for args in [&["up"][..], &["down", "staging", "--force"][..]] {
        let err = repo.sliceboard(args).fails();
        assert!(
            err.contains(&format!(
                "another sliceboard process (pid {}, `sliceboard dashboard`",
                holder.id()
            )),
            "{err}"
        );
    }
    // Read-only commands still work while the lock is held.
    repo.sliceboard(&["status"]).ok();
    assert_eq!(
        std::fs::read(repo.state_dir().join("state.json")).unwrap(),
        state_before
    );
    assert!(!repo.worktree("marts").exists());

    // The kernel drops the lock with the process: no stale lock.
    holder.kill().unwrap();
    holder.wait().unwrap();
    repo.sliceboard(&["up"]).ok();
    assert!(repo.worktree("marts").exists());
    assert_eq!(repo.state_json()["slices"]["marts"]["lifecycle"], "ready");
}

/// An agent's output and everything under the state folder are its
/// owner's alone, whatever the umask: files 0600, folders 0700.
#[test]
fn transcripts_logs_and_state_are_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt as _;
    let repo = TestRepo::with_plan_text(&common::supervised::plan(&[(
        "staging",
        "echo a-secret-token; exec sleep 30",
    )]));
    // The most permissive umask a user might have.
    let mut up = repo.command(common::BIN, &repo.root);
    up.arg("up");
    unsafe_umask_then_run(up);
    let sup = common::supervised::Supervise::start(&repo, &[]);
    let mut dash = common::supervised::Dashboard::connect(&repo.socket());
    dash.view(&["staging"]);
    dash.request(common::supervised::start_agent("staging"))
        .unwrap();
    dash.wait_pane("staging", "a-secret-token");
    let state = repo.state_dir();
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    for dir in [
        state.clone(),
        state.join("slices"),
        state.join("slices/staging"),
    ] {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }
    for file in [
        state.join("state.json"),
        state.join("events.jsonl"),
        state.join("sliceboard.log"),
        state.join("slices/staging/pty.log"),
        state.join("slices/staging/brief.md"),
    ] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    drop(sup);
}

/// Runs `command` with umask 000, as a careless shell would.
fn unsafe_umask_then_run(mut command: Command) {
    use std::os::unix::process::CommandExt as _;
    // SAFETY: umask is async-signal-safe and touches no memory of ours.
    unsafe {
        command.pre_exec(|| {
            libc::umask(0);
            Ok(())
        });
    }
    let out = command.output().unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// A deleted `state.json` is rebuilt from the journal and the repository,
/// approvals included, and the operator is told; never silently emptied.
#[test]
fn a_deleted_state_is_rebuilt_from_the_journal_and_the_repository() {
    let repo = TestRepo::with_plan();
    repo.sliceboard(&["up"]).ok();
    // A commit and its approval (it starts a supervisor, stopped before
    // the state goes).
    repo.commit_in(
        "staging",
        &[("models/staging/new.sql", "select 1\n")],
        "work",
    );
    repo.sliceboard(&["approve", "staging", "--force"]).ok();
    repo.sliceboard(&["stop"]).ok();
    let state_file = repo.state_dir().join("state.json");
    let before = repo.state_json();
    std::fs::remove_file(&state_file).unwrap();

    let run = repo.sliceboard(&["status"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stderr
            .contains("state.json was missing; rebuilt from the journal and the repository"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("staging: approved on slice/staging"),
        "{}",
        run.stderr
    );
    let after = repo.state_json();
    for slice in ["staging", "marts"] {
        for key in [
            "lifecycle",
            "branch",
            "worktree",
            "worktree_name",
            "base_commit",
            "created_by_sliceboard",
        ] {
            assert_eq!(
                after["slices"][slice][key], before["slices"][slice][key],
                "{slice}.{key}"
            );
        }
    }
    assert_eq!(
        after["slices"]["staging"]["approvals"][0]["commit"],
        before["slices"]["staging"]["approvals"][0]["commit"]
    );
    // Rebuilt once: the next command says nothing more.
    let run = repo.sliceboard(&["status"]);
    assert!(!run.stderr.contains("rebuilt"), "{}", run.stderr);

    // A state that does not parse is kept aside and rebuilt the same way.
    std::fs::write(&state_file, "{ torn").unwrap();
    let run = repo.sliceboard(&["status"]);
    assert!(
        run.stderr.contains("did not parse; kept as"),
        "{}",
        run.stderr
    );
    assert!(repo.state_dir().join("state.json.corrupt").exists());
    assert_eq!(repo.state_json()["slices"]["marts"]["lifecycle"], "ready");
}
