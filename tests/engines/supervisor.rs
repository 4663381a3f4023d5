//! The supervisor over a real repository: agents start in their worktrees
//! within the plan's cap, report activity with signals, restart with the
//! resume command, and every change is journaled. (The real
//! `sliceboard signal` reaching a supervisor process is tested in
//! `supervisor_process.rs`.)

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Deadline, Plan, TestRepo, name, toml_string};
use sliceboard::agents::{Agents, AgentsOptions};
use sliceboard::domain::{Activity, ActivitySource, AgentStatus, Command, Event};
use sliceboard::session::Size;
use sliceboard::store::Actor;
use sliceboard::workspace::Workspace;

const WAIT: Duration = Duration::from_secs(15);

fn plan(command: &str, resume: &str, max_running: usize) -> String {
    Plan::new(command)
        .top(&format!("max_running = {max_running}"))
        .agent(&format!("resume = {}", toml_string(resume)))
        .staging(&["prompt = \"Migrate the staging models.\""])
        .marts(&["after = [\"staging\"]"])
        .to_string()
}

struct Running {
    repo: TestRepo,
    sup: Agents,
    events: Arc<Mutex<Vec<Event>>>,
}

fn running(plan_text: &str) -> Running {
    let repo = TestRepo::with_plan_text(plan_text);
    repo.sliceboard(&["up"]).ok();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let ws = Workspace::open(&repo.root).unwrap();
    let options = AgentsOptions {
        size: Size {
            cols: 100,
            rows: 30,
        },
        kill_grace: Duration::from_millis(500),
        ..AgentsOptions::from_plan(&ws.plan)
    };
    let sup = Agents::new(ws, options, Arc::new(move |e| sink.lock().unwrap().push(e))).unwrap();
    Running { repo, sup, events }
}

/// Whether the slice's terminal shows `text`.
fn shows(sup: &Agents, slice: &str, text: &str) -> bool {
    sup.session(&name(slice))
        .is_some_and(|s| s.with_screen(|s| s.text()).contains(text))
}

impl Running {
    /// Hands the supervisor a command it must accept.
    fn ok(&mut self, command: Command) {
        self.sup.execute(command).unwrap();
    }

    /// Steps the supervisor until `done` holds.
    fn until(&mut self, what: &str, done: impl Fn(&Agents) -> bool) {
        let deadline = Deadline::after(WAIT);
        while !done(&self.sup) {
            assert!(
                !deadline.passed(),
                "never: {what}; events: {:?}",
                self.events.lock().unwrap()
            );
            self.sup.step(Duration::from_millis(50));
        }
    }

    fn screen(&self, slice: &str) -> String {
        self.sup
            .session(&name(slice))
            .map(|s| s.with_screen(|s| s.text()))
            .unwrap_or_default()
    }
}

/// The highest `tick-N` the slice's terminal shows.
fn last_tick(sup: &Agents, slice: &str) -> u32 {
    sup.session(&name(slice))
        .map(|s| s.with_screen(|s| s.text()))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.strip_prefix("tick-")?.parse().ok())
        .max()
        .unwrap_or(0)
}

#[test]
fn a_signal_sets_the_activity_and_holds_while_the_agent_prints() {
    let command =
        "echo started; for i in $(seq 1 600); do echo tick-$i; sleep 0.05; done; sleep 30";
    let mut r = running(&plan(command, "true", 4));
    let staging = name("staging");
    let err = r
        .sup
        .execute(Command::Signal {
            slice: staging.clone(),
            activity: Activity::Waiting,
            origin: None,
        })
        .unwrap_err();
    assert!(err.to_string().contains("not running"), "{err}");
    r.ok(Command::StartAgent {
        slice: staging.clone(),
    });
    // Steady output reads as busy...
    r.until("staging busy from its output", |s| {
        s.activity(&staging).map(|r| r.activity) == Some(Activity::Busy)
    });
    // ...until the agent's hook says it waits for the operator.
    r.ok(Command::Signal {
        slice: staging.clone(),
        activity: Activity::Waiting,
        origin: Some("test hook".into()),
    });
    assert_eq!(
        r.sup.activity(&staging).map(|r| r.activity),
        Some(Activity::Waiting)
    );
    assert!(r.events.lock().unwrap().contains(&Event::ActivityChanged {
        slice: staging.clone(),
        activity: Activity::Waiting,
        source: ActivitySource::Signal,
        origin: Some("test hook".into()),
    }));
    // The signal outranks the output that follows it.
    let at_signal = last_tick(&r.sup, "staging");
    let deadline = Deadline::after(WAIT);
    while last_tick(&r.sup, "staging") < at_signal + 20 {
        deadline.check("the agent printing 20 more ticks");
        r.sup.step(Duration::from_millis(50));
        assert_eq!(
            r.sup.activity(&staging).map(|r| r.activity),
            Some(Activity::Waiting),
            "output after the signal at tick {at_signal}, now tick {}",
            last_tick(&r.sup, "staging")
        );
    }
    // The operator answers; the agent's next signal says it is busy again.
    r.ok(Command::Signal {
        slice: staging.clone(),
        activity: Activity::Busy,
        origin: None,
    });
    assert_eq!(
        r.sup.activity(&staging).map(|r| r.activity),
        Some(Activity::Busy)
    );
    assert_eq!(
        r.events.lock().unwrap().last(),
        Some(&Event::ActivityChanged {
            slice: staging,
            activity: Activity::Busy,
            source: ActivitySource::Signal,
            origin: None,
        })
    );
}

#[test]
fn agents_run_in_their_worktree_with_the_slice_environment() {
    let mut r = running(&plan(
        "echo \"in $(pwd) as $SLICEBOARD_SLICE for $SLICEBOARD_DBT_TARGET\"; sleep 30",
        "true",
        4,
    ));
    r.ok(Command::StartAgent {
        slice: name("marts"),
    });
    let want = format!(
        "in {} as marts for dev_marts",
        r.repo.worktree("marts").display()
    );
    r.until("the agent's report", |s| shows(s, "marts", &want));
    // Starting an agent makes the slice active, and the journal says so.
    assert_eq!(
        r.repo.state_json()["slices"]["marts"]["lifecycle"],
        "active"
    );
    let journal = std::fs::read_to_string(r.repo.state_dir().join("events.jsonl")).unwrap();
    assert!(
        journal.contains(
            r#""event":"agent_status_changed","slice":"marts","status":{"state":"running"}"#
        ),
        "{journal}"
    );
    assert!(
        journal.contains(r#""from":"ready","to":"active""#),
        "{journal}"
    );
}

#[test]
fn the_running_cap_holds_extra_agents_as_pending_until_a_slot_frees() {
    let mut r = running(&plan("echo up; sleep 30", "true", 1));
    let (staging, marts) = (name("staging"), name("marts"));
    r.ok(Command::StartAgent {
        slice: staging.clone(),
    });
    r.ok(Command::StartAgent {
        slice: marts.clone(),
    });
    assert_eq!(r.sup.status(&staging), AgentStatus::Running);
    assert_eq!(r.sup.status(&marts), AgentStatus::Pending);

    r.ok(Command::KillAgent {
        slice: staging.clone(),
    });
    r.until("staging killed", |s| {
        s.status(&staging) == AgentStatus::Killed
    });
    r.until("marts started", |s| {
        s.status(&marts) == AgentStatus::Running
    });
}

#[test]
fn restart_uses_the_resume_command_below_the_earlier_output() {
    let mut r = running(&plan(
        "echo first-run; sleep 30",
        "echo resumed-run; sleep 30",
        4,
    ));
    let staging = name("staging");
    r.ok(Command::StartAgent {
        slice: staging.clone(),
    });
    r.until("first run printed", |s| shows(s, "staging", "first-run"));
    r.ok(Command::RestartAgent {
        slice: staging.clone(),
    });
    r.until("resumed", |s| shows(s, "staging", "resumed-run"));
    let screen = r.screen("staging");
    assert!(
        screen.find("first-run") < screen.find("resumed-run"),
        "{screen}"
    );
    assert_eq!(r.sup.status(&staging), AgentStatus::Running);
    let statuses: Vec<_> = r
        .events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::AgentStatusChanged { status, .. } => Some(*status),
            _ => None,
        })
        .collect();
    assert_eq!(
        statuses,
        [
            AgentStatus::Running,
            AgentStatus::Killed,
            AgentStatus::Running
        ]
    );
}

#[test]
fn exit_codes_and_pause_are_reported() {
    let mut r = running(&plan("sleep 1; exit 7", "true", 4));
    let staging = name("staging");
    r.ok(Command::StartAgent {
        slice: staging.clone(),
    });
    r.ok(Command::PauseAgent {
        slice: staging.clone(),
    });
    assert_eq!(r.sup.status(&staging), AgentStatus::Paused);
    r.ok(Command::ResumeAgent {
        slice: staging.clone(),
    });
    r.until("exit 7", |s| {
        s.status(&staging) == AgentStatus::Exited { code: Some(7) }
    });
    let err = r
        .sup
        .execute(Command::PauseAgent { slice: staging })
        .unwrap_err();
    assert!(err.to_string().contains("not running"), "{err}");
}

#[test]
fn stopping_records_each_agent_as_killed_and_forgets_its_pid() {
    let mut r = running(&plan("echo up; sleep 30", "true", 4));
    let staging = name("staging");
    r.ok(Command::StartAgent {
        slice: staging.clone(),
    });
    r.until("the agent printing", |s| shows(s, "staging", "up"));
    let agent_file = r.repo.state_dir().join("slices/staging/agent.json");
    assert!(agent_file.exists(), "a running agent's pid is written down");
    let said = r.sup.execute(Command::Shutdown).unwrap();
    assert!(said.contains("stopped 1 agent"), "{said}");
    assert!(r.sup.finished());
    assert_eq!(r.sup.status(&staging), AgentStatus::Killed);
    assert!(!agent_file.exists(), "a stopped agent leaves no pid behind");
    let journal = std::fs::read_to_string(r.repo.state_dir().join("events.jsonl")).unwrap();
    let last = journal
        .lines()
        .rfind(|l| l.contains("agent_status_changed"))
        .unwrap();
    assert!(last.contains(r#""state":"killed""#), "{last}");
}

#[test]
fn a_new_supervisor_shows_what_the_agent_printed_before() {
    let text = plan("echo from-an-earlier-dashboard; sleep 30", "true", 4);
    let mut r = running(&text);
    r.ok(Command::StartAgent {
        slice: name("staging"),
    });
    r.until("printed", |s| shows(s, "staging", "earlier-dashboard"));
    let Running { repo, sup, .. } = r;
    drop(sup);
    let ws = Workspace::open(&repo.root).unwrap();
    let mut sup = Agents::new(ws, AgentsOptions::default(), Arc::new(|_| {})).unwrap();
    sup.execute(Command::StartAgent {
        slice: name("staging"),
    })
    .unwrap();
    let screen = sup
        .session(&name("staging"))
        .unwrap()
        .with_screen(|s| s.text());
    assert!(screen.contains("from-an-earlier-dashboard"), "{screen}");
    assert!(screen.contains("agent started again"), "{screen}");
}

#[test]
fn a_run_a_killed_supervisor_left_running_is_shown_as_exited_with_its_output() {
    let text = plan(
        "echo marker-of-the-lost-run; sleep 30",
        "echo resumed-run; sleep 30",
        4,
    );
    let mut r = running(&text);
    let staging = name("staging");
    r.ok(Command::StartAgent {
        slice: staging.clone(),
    });
    r.until("printed", |s| shows(s, "staging", "marker-of-the-lost-run"));
    let Running { repo, sup, .. } = r;
    // A supervisor that is killed records nothing more, so its journal's
    // last word on the agent is `running`. Dropping one stops its agents
    // (the run ends) and the journal is made to say what a killed one
    // would have left.
    drop(sup);
    let ws = Workspace::open(&repo.root).unwrap();
    ws.state_dir
        .journal()
        .record(
            Actor::Operator,
            Event::AgentStatusChanged {
                slice: staging.clone(),
                status: AgentStatus::Running,
            },
        )
        .unwrap();

    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let mut sup = Agents::new(
        ws,
        AgentsOptions::default(),
        Arc::new(move |e| sink.lock().unwrap().push(e)),
    )
    .unwrap();
    let lost = AgentStatus::Exited { code: None };
    assert_eq!(sup.statuses()[&staging], lost);
    assert_eq!(sup.statuses()[&name("marts")], AgentStatus::NotStarted);
    let ended = Event::AgentStatusChanged {
        slice: staging.clone(),
        status: lost,
    };
    assert_eq!(*events.lock().unwrap(), std::slice::from_ref(&ended));
    let journal = sup.workspace().state_dir.journal().read().unwrap();
    assert_eq!(journal.entries.last().unwrap().event, ended);
    let screens = sup.screens();
    let earlier = screens.lock().unwrap()[&staging].with_screen(|s| s.text());
    assert!(earlier.contains("marker-of-the-lost-run"), "{earlier}");
    assert!(sup.session(&staging).is_none(), "nothing runs yet");

    sup.execute(Command::RestartAgent {
        slice: staging.clone(),
    })
    .unwrap();
    assert_eq!(sup.status(&staging), AgentStatus::Running);
    let deadline = Deadline::after(WAIT);
    while !shows(&sup, "staging", "resumed-run") {
        deadline.check("the restarted run printing");
        sup.step(Duration::from_millis(50));
    }
    let screen = sup.session(&staging).unwrap().with_screen(|s| s.text());
    let (marker, again, resumed) = (
        screen.find("marker-of-the-lost-run"),
        screen.find("agent started again"),
        screen.find("resumed-run"),
    );
    assert!(
        marker.is_some() && marker < again && again < resumed,
        "{screen}"
    );
}

#[test]
fn signal_without_a_supervisor_tells_the_hook_and_does_not_fail_it() {
    let repo = TestRepo::with_plan_text(&plan("true", "true", 4));
    let run = repo.sliceboard(&["signal", "waiting", "--slice", "staging"]);
    assert_eq!(run.code, Some(0), "{run:#?}");
    let stderr = run.stderr;
    assert!(
        stderr.contains("no supervisor is running") && stderr.contains("signal not delivered"),
        "{stderr}"
    );
    let err = repo.sliceboard(&["signal", "idle"]).fails();
    assert!(err.contains("pass --slice NAME"), "{err}");
}

#[test]
fn a_restarted_agent_starts_at_the_size_its_pane_was_given() {
    let mut r = running(&plan(
        "sleep 30",
        "echo size-$(stty size | tr ' ' x); sleep 30",
        4,
    ));
    let staging = name("staging");
    r.ok(Command::StartAgent {
        slice: staging.clone(),
    });
    r.ok(Command::ResizeAgent {
        slice: staging.clone(),
        cols: 70,
        rows: 20,
    });
    r.ok(Command::RestartAgent {
        slice: staging.clone(),
    });
    r.until("the resumed agent's size", |s| {
        shows(s, "staging", "size-20x70")
    });
}

#[test]
fn approval_records_the_committed_tip_and_refuses_uncommitted_work() {
    let command = "echo 'select 1' > models/staging/new.sql; sleep 0.5; git add -A; git -c user.name=agent -c user.email=a@b.c commit -qm work; echo committed; sleep 30";
    let mut r = running(&plan(command, "true", 4));
    let staging = name("staging");
    let approve = |r: &Running| {
        sliceboard::workspace::approve(
            r.sup.workspace(),
            &r.sup.state_store(),
            &staging,
            Vec::new(),
            false,
            &sliceboard::workspace::whole_status,
        )
    };
    let err = approve(&r).unwrap_err();
    assert!(
        err.to_string().contains("no commits beyond the base"),
        "{err}"
    );
    r.ok(Command::StartAgent {
        slice: staging.clone(),
    });
    r.until("the new file", |s| {
        s.workspace()
            .git
            .root()
            .parent()
            .unwrap()
            .join("shop.slices/staging/models/staging/new.sql")
            .exists()
    });
    if !r.screen("staging").contains("committed") {
        let err = approve(&r).unwrap_err();
        assert!(err.to_string().contains("uncommitted work"), "{err}");
    }
    r.until("the commit", |s| shows(s, "staging", "committed"));
    approve(&r).unwrap();
    let state = r.repo.state_json();
    let record = &state["slices"]["staging"];
    assert_eq!(record["lifecycle"], "approved");
    let tip = r.repo.git(&["rev-parse", "slice/staging"]);
    assert_eq!(record["approvals"][0]["commit"], tip.as_str());
    let journal = std::fs::read_to_string(r.repo.state_dir().join("events.jsonl")).unwrap();
    assert!(
        journal.contains(&format!(
            r#""event":"approved","slice":"staging","commit":"{tip}""#
        )),
        "{journal}"
    );

    sliceboard::workspace::withdraw(&r.sup.state_store(), &staging).unwrap();
    assert_eq!(
        r.repo.state_json()["slices"]["staging"]["lifecycle"],
        "active"
    );
}
