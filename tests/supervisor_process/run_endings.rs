//! Every way an agent's run ends writes that end to the journal
//! (`events.jsonl`), through the real supervisor process: the agent
//! exiting, `sliceboard kill`, `sliceboard stop`, SIGTERM or SIGINT to the
//! supervisor, and the supervisor killed outright (recorded by the next
//! one). SIGHUP is no end: the supervisor outlives terminals, and its
//! agents go on. (A dashboard detaching ends nothing either; `q` and the
//! dashboard's signals are tested in `dashboard_tmux.rs`.)

use crate::common;

use common::poll_until;
use common::supervised::*;
use sliceboard::domain::AgentStatus;

/// Starts the agents of `slices` and waits until each runs.
fn start(f: &Fixture, slices: &[&str]) -> Vec<KillGroup> {
    let mut dash = Dashboard::connect(&f.socket());
    slices
        .iter()
        .map(|slice| {
            dash.request(start_agent(slice)).expect("the agent starts");
            dash.wait_until("its pid", |d| d.row(slice).pid.is_some());
            assert_eq!(f.repo.last_agent_status(slice).as_deref(), Some("running"));
            KillGroup(dash.row(slice).pid.unwrap())
        })
        .collect()
}

/// Waits for the supervisor process to end by itself.
fn ended(sup: &mut Supervise, what: &str) {
    common::wait_exit(
        &mut sup.child,
        &format!("the supervisor, after {what},"),
        WAIT,
    );
}

const LONG: &str = "exec sleep 300";

#[test]
fn an_agent_that_exits_is_journaled_with_its_code() {
    let f = Fixture::new(&[("staging", "sleep 0.3; exit 3")], &[]);
    let mut dash = Dashboard::connect(&f.socket());
    dash.request(start_agent("staging")).unwrap();
    dash.wait_event("the exit", |e| {
        status_changed(e, "staging", AgentStatus::Exited { code: Some(3) })
    });
    assert_eq!(
        f.repo.last_agent_status("staging").as_deref(),
        Some("exited 3")
    );
}

#[test]
fn kill_is_journaled() {
    let f = Fixture::new(&[("staging", LONG)], &[]);
    let _agents = start(&f, &["staging"]);
    let said = sliceboard(&f.repo, &["kill", "staging"]).ok();
    assert!(said.contains("staging: killed"), "{said}");
    assert_eq!(
        f.repo.last_agent_status("staging").as_deref(),
        Some("killed")
    );
}

#[test]
fn stop_and_the_supervisors_signals_journal_every_agent_as_killed() {
    for how in ["sliceboard stop", "SIGTERM", "SIGINT"] {
        let mut f = Fixture::new(&[("staging", LONG), ("marts", LONG)], &[]);
        let _agents = start(&f, &["staging", "marts"]);
        match how {
            "sliceboard stop" => {
                sliceboard(&f.repo, &["stop"]).ok();
            }
            signal => {
                let signal = if signal == "SIGTERM" {
                    libc::SIGTERM
                } else {
                    libc::SIGINT
                };
                // SAFETY: signals our own child process.
                unsafe { libc::kill(f.sup.pid() as i32, signal) };
            }
        }
        ended(&mut f.sup, how);
        for slice in ["staging", "marts"] {
            assert_eq!(
                f.repo.last_agent_status(slice).as_deref(),
                Some("killed"),
                "{how}: {slice}"
            );
        }
    }
}

#[test]
fn sighup_ends_nothing_and_a_killed_supervisor_is_journaled_by_the_next() {
    let mut f = Fixture::new(&[("staging", LONG)], &[]);
    let _agents = start(&f, &["staging"]);
    // SAFETY: signals our own child process.
    unsafe { libc::kill(f.sup.pid() as i32, libc::SIGHUP) };
    // Once it has seen the signal, it still serves, its agent still runs.
    let log = f.repo.state_dir().join("sliceboard.log");
    poll_until(
        "the supervisor saying what it did with SIGHUP",
        WAIT,
        || {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("SIGHUP ignored")
        },
    );
    assert_serving(&f.socket());
    let dash = Dashboard::connect(&f.socket());
    assert_eq!(dash.row("staging").status, AgentStatus::Running);
    assert!(f.sup.child.try_wait().unwrap().is_none());
    assert_eq!(
        f.repo.last_agent_status("staging").as_deref(),
        Some("running")
    );
    drop(dash);

    // Killed outright, it records nothing; the next one records the end
    // nobody saw (the agent died of its terminal's hangup).
    f.sup.kill();
    assert_eq!(
        f.repo.last_agent_status("staging").as_deref(),
        Some("running")
    );
    f.sup = Supervise::start(&f.repo, &[]);
    assert_eq!(
        f.repo.last_agent_status("staging").as_deref(),
        Some("exited null")
    );
}
