//! Bounded and well-formed: input for an agent that does not read it is
//! capped and refused past the cap, saying so, with the supervisor's memory
//! bounded; `sliceboard kill` reaches an agent whose slice left the plan.

use crate::common;

use common::TestRepo;
use common::supervised::*;
use sliceboard::domain::{AgentStatus, Command};

#[test]
fn input_for_an_agent_that_does_not_read_is_capped_and_refused_saying_so() {
    // Raw mode: the terminal keeps what it is sent (a canonical one drops
    // what does not fit its line) and, once its buffer is full, blocks.
    let f = Fixture::new(
        &[("staging", "stty raw -echo; echo started; exec sleep 1000")],
        &[],
    );
    let mut dash = Dashboard::connect(&f.socket());
    dash.view(&["staging"]);
    dash.request(start_agent("staging")).expect("starts");
    dash.wait_pane("staging", "started");
    // Pastes of 256 KiB, none of them read: 8 MiB, then 16 MiB more.
    let chunk = vec![b'x'; 256 * 1024];
    let mut accepted = 0usize;
    let mut refusal = None;
    let mut offer = |dash: &mut Dashboard, times: usize| {
        for _ in 0..times {
            match dash.request(Command::SendInput {
                slice: name("staging"),
                bytes: chunk.clone(),
            }) {
                Ok(_) => accepted += chunk.len(),
                Err(why) => refusal = Some(why),
            }
        }
    };
    offer(&mut dash, 32);
    let capped = rss_kib(f.sup.pid());
    offer(&mut dash, 64);
    let after = rss_kib(f.sup.pid());
    let refusal = refusal.expect("input past the cap is refused");
    assert!(
        refusal.contains("not reading its input")
            && refusal.contains("1024 KiB")
            && refusal.contains("not sent"),
        "{refusal}"
    );
    // What was taken: the cap, and what the terminal's own buffer holds.
    assert!(
        accepted <= 2 * 1024 * 1024,
        "{accepted} bytes were queued for an agent that reads nothing"
    );
    // Once capped, more input offered costs no more memory.
    eprintln!("supervisor RSS: {capped} KiB once capped, {after} KiB after 16 MiB more");
    assert!(
        after < capped + 8 * 1024,
        "the supervisor grew from {capped} KiB to {after} KiB"
    );
    // The agent is still there, and kill ends it.
    assert_eq!(dash.row("staging").status, AgentStatus::Running);
    dash.request(kill_agent("staging")).expect("kill");
}

#[test]
fn kill_reaches_an_agent_whose_slice_left_the_plan() {
    let f = Fixture::new(&[("staging", "echo started; exec sleep 300")], &[]);
    let mut dash = Dashboard::connect(&f.socket());
    dash.view(&["staging"]);
    dash.request(start_agent("staging")).expect("starts");
    dash.wait_pane("staging", "started");
    let without = plan(&[]).replacen(
        "\n[[slice]]\nname = \"staging\"\nowns = [\"models/staging/**\"]\n",
        "",
        1,
    );
    f.repo.save_plan(&without);
    dash.wait_until("staging marked as removed from the plan", |d| {
        d.board.row(&name("staging")).is_some_and(|r| r.removed)
    });
    let said = sliceboard(&f.repo, &["kill", "staging"]).ok();
    assert!(said.contains("staging: killed"), "{said}");
    assert_eq!(
        TestRepo::last_agent_status(&f.repo, "staging").as_deref(),
        Some("killed")
    );
}
