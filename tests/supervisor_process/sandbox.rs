//! Each slice in its own box (`[agent] sandbox = "bubblewrap"`): a real
//! agent in a real bubblewrap sandbox writes only its worktree, commits to
//! its branch, reaches no network with `network = "none"`, gets only the
//! environment the plan gives it, still reaches the board with its hooks,
//! pauses, resumes and dies with its whole tree. Ports per slice are
//! distinct, bindable, stable across restarts and released at `clean`;
//! a teardown runs at `down` and shows in the Logs tab.

use crate::common;

use common::supervised::*;
use common::{Plan, TestRepo, procs};
use sliceboard::domain::{Activity, Command};

/// Whether bubblewrap can run here; CI installs it
/// (`SLICEBOARD_TEST_BWRAP` set), where a missing one fails the test.
fn bubblewrap() -> bool {
    if sliceboard::workspace::probe_sandbox(sliceboard::domain::sandbox::Network::None).is_ok() {
        return true;
    }
    assert!(
        std::env::var_os("SLICEBOARD_TEST_BWRAP").is_none(),
        "SLICEBOARD_TEST_BWRAP is set but bubblewrap cannot start a sandbox here"
    );
    eprintln!("skipped: bubblewrap cannot start a sandbox here (apt-get install bubblewrap)");
    false
}

/// What the sandboxed agent tries, each line saying ALLOWED or DENIED with
/// the error the agent got.
const PROBE: &str = r#"
try() { if ( eval "$2" ); then echo "ALLOWED $1"; else echo "DENIED $1"; fi; }
try main 'echo x > "$SLICEBOARD_REPO/intruder"'
try other 'echo x > "$SLICEBOARD_REPO/../shop.slices/$OTHER/intruder"'
try home 'echo x > "$HOME/intruder"'
try own 'echo x > own.txt'
git add own.txt && git commit -qm 'written in the box' && echo COMMITTED
python3 -c "import socket,sys; s=socket.socket(); s.settimeout(2); sys.exit(s.connect_ex(('127.0.0.1', $PORT)))" && echo NET-ALLOWED || echo NET-DENIED
echo "secret=[${SECRET_TOKEN-}] author=[${GIT_AUTHOR_NAME-}]"
"$SB" signal waiting && echo SIGNALLED
sleep 600 &
echo PROBED
wait
"#;

fn sandbox_plan(port: u16) -> String {
    Plan::new("cat")
        .agent(&format!("env = {{ SB = {}, PORT = \"{port}\" }}", toml_string(common::BIN)))
        .agent("sandbox = \"bubblewrap\"")
        .agent("network = \"none\"")
        .agent("pass_env = [\"GIT_AUTHOR_NAME\", \"GIT_AUTHOR_EMAIL\", \"GIT_COMMITTER_NAME\", \"GIT_COMMITTER_EMAIL\", \"GIT_CONFIG_NOSYSTEM\", \"GIT_CONFIG_GLOBAL\"]")
        .staging(&[
            &format!("agent = {}", toml_string(PROBE)),
            "env = { OTHER = \"marts\" }",
        ])
        .marts(&[
            &format!("agent = {}", toml_string(PROBE)),
            "env = { OTHER = \"staging\" }",
            "network = \"host\"",
        ])
        .to_string()
}

#[test]
fn a_bubblewrap_agent_writes_only_its_worktree_commits_and_reaches_no_network() {
    if !bubblewrap() {
        return;
    }
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let repo = TestRepo::with_plan_text(&sandbox_plan(port));
    repo.sliceboard(&["up"]).ok();
    let _sup = Supervise::start(&repo, &[("SECRET_TOKEN", "hunter2")]);
    let mut dash = Dashboard::connect(&repo.socket());
    assert_eq!(
        dash.row("staging").sandbox.describe(),
        "bubblewrap, network none"
    );
    assert_eq!(
        dash.row("marts").sandbox.describe(),
        "bubblewrap, network host"
    );
    dash.view(&["staging", "marts"]);
    dash.request(start_agent("staging")).expect("starts");
    dash.request(start_agent("marts")).expect("starts");
    dash.wait_pane("staging", "PROBED");
    dash.wait_pane("marts", "PROBED");
    let staging = dash.pane_text(&name("staging"));
    for line in [
        "DENIED main",
        "DENIED other",
        "DENIED home",
        "ALLOWED own",
        "COMMITTED",
        "NET-DENIED",
        "secret=[] author=[Test Author]",
        "SIGNALLED",
    ] {
        assert!(staging.contains(line), "{line:?} not in:\n{staging}");
    }
    // The refusal is the error the agent got, in its own terminal.
    assert!(
        staging.contains("Read-only file system") && staging.contains("Permission denied"),
        "{staging}"
    );
    // The same probe with the host's network reaches the listener.
    assert!(
        dash.pane_text(&name("marts")).contains("NET-ALLOWED"),
        "{}",
        dash.pane_text(&name("marts"))
    );
    assert!(!repo.root.join("intruder").exists());
    for slice in ["staging", "marts"] {
        assert!(!repo.worktree(slice).join("intruder").exists());
    }
    assert!(!repo.home().join("intruder").exists());
    assert!(repo.worktree("staging").join("own.txt").is_file());
    let log = repo.git(&["log", "--format=%s", "-1", "slice/staging"]);
    assert_eq!(log.trim(), "written in the box");
    // `status` says what each agent runs in.
    let table = repo.sliceboard(&["status"]).ok();
    assert!(
        table.contains("staging: sandbox bubblewrap, network none")
            && table.contains("marts: sandbox bubblewrap, network host"),
        "{table}"
    );
    // Its hook reached the board from inside.
    dash.wait_until("the agent's signal on the board", |d| {
        d.row("staging").activity == Some(Activity::Waiting)
    });
}

#[test]
fn a_sandboxed_agent_pauses_resumes_and_dies_with_its_whole_tree() {
    if !bubblewrap() {
        return;
    }
    let repo = TestRepo::with_plan_text(
        &Plan::new("cat")
            .agent("sandbox = \"bubblewrap\"")
            .staging(&["agent = \"sleep 600 & sleep 601 & echo BOXED; wait\""])
            .to_string(),
    );
    repo.sliceboard(&["up"]).ok();
    let _sup = Supervise::start(&repo, &[]);
    let mut dash = Dashboard::connect(&repo.socket());
    dash.view(&["staging"]);
    dash.request(start_agent("staging")).expect("starts");
    dash.wait_pane("staging", "BOXED");
    let sleeps = || -> Vec<i32> {
        procs::all_pids()
            .into_iter()
            .filter(|pid| {
                let line = procs::cmdline(*pid);
                (line.starts_with("sleep 600") || line.starts_with("sleep 601"))
                    && std::fs::read(format!("/proc/{pid}/environ"))
                        .is_ok_and(|env| env.windows(24).any(|w| w == b"SLICEBOARD_SLICE=staging"))
            })
            .collect()
    };
    let tree = sleeps();
    assert_eq!(tree.len(), 2, "{tree:?}");
    // They run in the sandbox: a pid namespace of their own.
    let namespace = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap();
    for pid in &tree {
        assert_ne!(
            namespace(&pid.to_string()),
            namespace("self"),
            "{pid} is not boxed"
        );
    }

    dash.request(Command::PauseAgent {
        slice: name("staging"),
    })
    .expect("pauses");
    common::poll_until("the sandboxed processes stopped", WAIT, || {
        tree.iter()
            .all(|pid| procs::stat(*pid).is_some_and(|s| s.state == 'T'))
    });
    dash.request(Command::ResumeAgent {
        slice: name("staging"),
    })
    .expect("resumes");
    common::poll_until("the sandboxed processes running again", WAIT, || {
        tree.iter()
            .all(|pid| procs::stat(*pid).is_some_and(|s| s.state == 'S'))
    });

    dash.request(kill_agent("staging")).expect("kills");
    common::poll_until("every process of the sandbox gone", WAIT, || {
        tree.iter().all(|pid| !procs::alive(*pid))
    });
    assert!(sleeps().is_empty());
}

#[test]
fn check_refuses_a_sandbox_it_cannot_start_and_says_why() {
    let repo = TestRepo::with_plan_text(
        &Plan::new("cat")
            .agent("sandbox = \"bubblewrap\"")
            .staging(&[])
            .to_string(),
    );
    let mut command = repo.command(common::BIN, &repo.root);
    command.arg("check").env("PATH", "/nonexistent");
    let out = command.output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("bubblewrap (`bwrap`) is not installed") && said.contains("staging"),
        "{said}"
    );
    // And no agent starts in a sandbox that cannot start.
    let up = repo
        .command(common::BIN, &repo.root)
        .arg("up")
        .output()
        .unwrap();
    assert!(up.status.success());
    let _sup = Supervise::start(&repo, &[("PATH", "/usr/local/bin:/nonexistent")]);
    let refused = cli(&repo.socket(), start_agent("staging")).unwrap_err();
    assert!(
        refused.contains("bubblewrap (`bwrap`) is not installed"),
        "{refused}"
    );
}

/// Waits until `line` is in `slice`'s Logs tab.
fn wait_log(dash: &mut Dashboard, slice: &str, line: &str) {
    dash.wait_until(&format!("{line:?} in {slice}'s Logs tab"), |d| {
        d.row(slice).logs.iter().any(|l| l == line)
    });
}

fn ports_plan(slices: usize) -> String {
    let mut plan = Plan::new("python3 -c \"import os,socket; p=int(os.environ['SLICEBOARD_PORT_WEB']); socket.socket().bind(('127.0.0.1', p)); print('BOUND', p, '{port.web}')\"; exec cat")
        .top(&format!("max_running = {slices}"))
        .table("[worktree]\nports = [\"web\"]\nteardown = [\"echo tearing down $SLICEBOARD_SLICE on {port.web}\"]");
    for i in 0..slices {
        plan = plan.slice(&format!("s{i}"), &[&format!("models/s{i}/**")], &[]);
    }
    plan.to_string()
}

fn ports(repo: &TestRepo) -> Vec<u16> {
    let state = repo.state_json();
    (0..10)
        .filter_map(|i| state["slices"][format!("s{i}")]["ports"]["web"].as_u64())
        .map(|p| u16::try_from(p).unwrap())
        .collect()
}

#[test]
fn ten_slices_get_ten_ports_each_bindable_kept_across_restarts_and_released_at_clean() {
    let repo = TestRepo::with_plan_text(&ports_plan(10));
    repo.sliceboard(&["up"]).ok();
    let first = ports(&repo);
    assert_eq!(first.len(), 10, "{first:?}");
    let mut distinct = first.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 10, "{first:?}");

    let mut sup = Supervise::start(&repo, &[]);
    let mut dash = Dashboard::connect(&repo.socket());
    let names: Vec<String> = (0..10).map(|i| format!("s{i}")).collect();
    let shown: Vec<&str> = names.iter().map(String::as_str).collect();
    dash.view(&shown);
    for (i, port) in first.iter().enumerate() {
        let slice = format!("s{i}");
        assert_eq!(dash.row(&slice).ports.get("web"), Some(port));
        dash.request(start_agent(&slice)).expect("starts");
    }
    for (i, port) in first.iter().enumerate() {
        dash.wait_pane(&format!("s{i}"), &format!("BOUND {port} {port}"));
    }
    drop(dash);
    sup.kill();

    // The same ports after a restart.
    let _sup = Supervise::start(&repo, &[]);
    let mut dash = Dashboard::connect(&repo.socket());
    assert_eq!(ports(&repo), first);
    assert_eq!(dash.row("s3").ports.get("web"), Some(&first[3]));

    // `clean` tears down and releases the port.
    dash.view(&["s3"]);
    dash.request(kill_agent("s3")).ok();
    dash.wait_until("s3's agent ended", |d| d.row("s3").pid.is_none());
    let said = dash
        .request(Command::Clean {
            slice: name("s3"),
            force: true,
        })
        .expect("cleans");
    assert!(said.contains("removed s3's worktree"), "{said}");
    wait_log(
        &mut dash,
        "s3",
        &format!("teardown | tearing down s3 on {}", first[3]),
    );
    dash.wait_until("the port released on the board", |d| {
        d.row("s3").ports.is_empty()
    });
    let state = repo.state_json();
    assert!(state["slices"]["s3"]["ports"].is_null(), "{state}");
    assert_eq!(state["slices"]["s4"]["ports"]["web"], first[4]);
}

#[test]
fn a_teardown_runs_at_down_and_its_output_and_failure_are_shown() {
    let repo = TestRepo::with_plan_text(
        &Plan::new("cat")
            .table("[worktree]\nports = [\"web\"]\nteardown = [\"echo dropping schema of $SLICEBOARD_SLICE in $PWD\", \"echo still up on {port.web} >&2; exit 4\", \"echo never\"]")
            .staging(&[])
            .marts(&[])
            .to_string(),
    );
    repo.sliceboard(&["up"]).ok();
    let port = repo.state_json()["slices"]["marts"]["ports"]["web"].clone();
    let table = repo.sliceboard(&["status"]).ok();
    assert!(
        table.contains(&format!("marts: ports web {port}")),
        "{table}"
    );
    // Without a supervisor: said on the command line.
    let out = repo.sliceboard(&["down", "staging"]).ok();
    assert!(
        out.contains("teardown failed: `echo still up on")
            && out.contains("exited with 4")
            && out.contains(".git/sliceboard/slices/staging/teardown.log"),
        "{out}"
    );
    let log =
        std::fs::read_to_string(repo.state_dir().join("slices/staging/teardown.log")).unwrap();
    assert!(
        log.contains(&format!(
            "dropping schema of staging in {}",
            repo.worktree("staging").display()
        )) && !log.contains("never"),
        "{log}"
    );
    // Through the supervisor: in the Logs tab, and in the events.
    let _sup = Supervise::start(&repo, &[]);
    let mut dash = Dashboard::connect(&repo.socket());
    let said = dash
        .request(Command::Down {
            slice: name("marts"),
            force: false,
        })
        .expect("down");
    assert!(said.contains("teardown failed"), "{said}");
    wait_log(
        &mut dash,
        "marts",
        &format!("teardown | still up on {port}"),
    );
    assert!(
        dash.row("marts")
            .events
            .iter()
            .any(|e| e.text.contains("teardown failed")),
        "{:?}",
        dash.row("marts").events
    );
}

#[test]
fn a_sandbox_command_wraps_the_agent_with_its_environment_in_a_file() {
    // A stand-in for `podman run …`: says what it was given, then runs
    // the agent's command as a container would.
    let wrapper = "sh -c 'echo \"boxed by hand: {slice} net={network} in $PWD\"; . {env_file}; echo \"env file slice=$SLICEBOARD_SLICE\"; exec \"$@\"' box {command}";
    let repo = TestRepo::with_plan_text(
        &Plan::new("cat")
            .agent("sandbox = \"command\"")
            .agent("network = \"none\"")
            .agent(&format!("sandbox_command = {}", toml_string(wrapper)))
            .staging(&["agent = \"echo agent-ran-$((6*7)); exec cat\""])
            .to_string(),
    );
    repo.sliceboard(&["up"]).ok();
    let _sup = Supervise::start(&repo, &[]);
    let mut dash = Dashboard::connect(&repo.socket());
    dash.view(&["staging"]);
    dash.request(start_agent("staging")).expect("starts");
    dash.wait_pane("staging", "agent-ran-42");
    let pane = dash.pane_text(&name("staging"));
    assert!(
        pane.contains(&format!(
            "boxed by hand: staging net=none in {}",
            repo.worktree("staging").display()
        )) && pane.contains("env file slice=staging"),
        "{pane}"
    );
}
