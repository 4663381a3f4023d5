//! Calls to the operator with no dashboard attached: the plan's
//! `[notify] command`, run by the supervisor once per transition.

use crate::common::supervised::{Supervise, cli, plan, start_agent, status_json};
use crate::common::{TestRepo, WAIT, name, poll_some, poll_until, poll_within, toml_string};
use sliceboard::domain::Command;
use std::time::Duration;

#[test]
fn with_no_dashboard_the_notify_command_runs_once_per_transition_for_the_reasons_asked() {
    // Waiting, then a flicker back to waiting within the debounce (one
    // call), a turn that ends (`done`, not asked for), and an exit with an
    // error.
    let agent = "\"$SB\" signal waiting; \"$SB\" signal busy; \"$SB\" signal waiting; \
                 sleep 0.3; \"$SB\" signal busy; \"$SB\" signal idle; exit 3";
    let repo = TestRepo::new();
    let calls = repo.top.join("calls.log");
    let command = format!(
        "printf '%s|%s|%s|%s\\n' \"$SLICEBOARD_NOTIFY_SLICE\" \"$SLICEBOARD_NOTIFY_REASON\" \
         \"$SLICEBOARD_NOTIFY_MESSAGE\" \"$(basename \"$SLICEBOARD_NOTIFY_REPO\")\" >> {}",
        calls.display()
    );
    let text = format!(
        "{}\n[notify]\non = [\"waiting\", \"failed\"]\ncommand = {}\n",
        plan(&[("staging", agent)]),
        toml_string(&command)
    );
    repo.write("sliceboard.toml", &text);
    repo.commit_all("plan");
    repo.sliceboard(&["up"]).ok();
    let _sup = Supervise::start(&repo, &[]);
    cli(&repo.socket(), start_agent("staging")).expect("the agent starts");

    let lines = poll_some("a call for the wait and one for the exit", WAIT, || {
        let text = std::fs::read_to_string(&calls).unwrap_or_default();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines.sort();
        (lines.len() >= 2).then_some(lines)
    });
    let repo_name = repo
        .root
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert_eq!(
        lines,
        [
            format!("staging|failed|staging: its agent exited with code 3|{repo_name}"),
            format!("staging|waiting|staging: waits for you|{repo_name}"),
        ],
        "one call per transition, none for `done`"
    );
}

#[test]
fn a_muted_slice_calls_nobody() {
    // Each agent waits once it is told to (a line on its terminal).
    let agent = "read -r go; \"$SB\" signal waiting; exec sleep 30";
    let repo = TestRepo::new();
    let calls = repo.top.join("calls.log");
    let command = format!(
        "echo \"$SLICEBOARD_NOTIFY_SLICE $SLICEBOARD_NOTIFY_REASON\" >> {}",
        calls.display()
    );
    let text = format!(
        "{}\n[notify]\non = [\"waiting\"]\ncommand = {}\n",
        plan(&[("staging", agent), ("marts", agent)]),
        toml_string(&command)
    );
    repo.write("sliceboard.toml", &text);
    repo.commit_all("plan");
    repo.sliceboard(&["up"]).ok();
    let sup = Supervise::start(&repo, &[]);
    let socket = repo.socket();
    let said = cli(
        &socket,
        Command::MuteCalls {
            slice: name("staging"),
            muted: true,
        },
    )
    .unwrap();
    assert_eq!(said, "calls from staging muted");
    for slice in ["staging", "marts"] {
        cli(&socket, start_agent(slice)).expect("the agent starts");
        cli(
            &socket,
            Command::Prompt {
                slice: name(slice),
                text: "go".into(),
                by_itself: false,
            },
        )
        .unwrap();
    }
    // marts calls; staging, muted, waits just the same but calls nobody.
    poll_some("marts' call", WAIT, || {
        std::fs::read_to_string(&calls)
            .ok()
            .filter(|t| t.contains("marts waiting"))
    });
    poll_until("staging waiting on the board", WAIT, || {
        status_json(&repo)["slices"].as_array().is_some_and(|s| {
            s.iter()
                .any(|s| s["name"] == "staging" && s["agent"]["activity"] == "waiting")
        })
    });
    // A wait, not a lock: what is tested is that no call follows, so the
    // command is given a moment in which it must not run.
    let staging_called = poll_within(Duration::from_secs(1), || {
        std::fs::read_to_string(&calls).is_ok_and(|t| t.contains("staging"))
    });
    assert!(
        !staging_called,
        "{}",
        std::fs::read_to_string(&calls).unwrap()
    );
    assert_eq!(std::fs::read_to_string(&calls).unwrap(), "marts waiting\n");

    // The mute outlives the supervisor: the next one's board says so.
    drop(sup);
    let _sup = Supervise::start(&repo, &[]);
    let mut dash = crate::common::supervised::Dashboard::connect(&repo.socket());
    let muted: Vec<(String, bool)> = dash
        .board
        .slices
        .iter()
        .map(|row| (row.name.to_string(), row.muted))
        .collect();
    assert_eq!(
        muted,
        [
            ("staging".to_owned(), true),
            ("marts".to_owned(), false),
            ("seeds".to_owned(), false)
        ]
    );
    // A dashboard's `z` is answered as the command line's is (it once
    // went to the agents, which refused it).
    let said = dash.request(Command::MuteCalls {
        slice: name("marts"),
        muted: true,
    });
    assert_eq!(said.as_deref(), Ok("calls from marts muted"));
    dash.wait_until("marts muted on the board", |d| d.row("marts").muted);
}
