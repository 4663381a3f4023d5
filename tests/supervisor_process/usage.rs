//! What agents cost: Claude Code's transcript followed as it grows, an
//! aider-like agent's cost line, `sliceboard signal usage`, priced by the
//! shipped table or the user's, in `status` with and without a
//! supervisor; and a budget that pauses an agent until it is raised.

use crate::common::supervised::{Supervise, cli, plan, start_agent, status_json};
use crate::common::{TestRepo, WAIT, poll_some, poll_until};

/// Writes one Claude Code transcript line (an assistant message's usage)
/// into the transcript of the worktree it runs in.
fn claude_line(id: &str, input: u64, cache_read: u64, output: u64) -> String {
    let line = format!(
        "{{\"type\":\"assistant\",\"message\":{{\"id\":\"{id}\",\"model\":\"claude-sonnet-4-5-20250929\",\"usage\":{{\"input_tokens\":{input},\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":{cache_read},\"output_tokens\":{output}}}}}}}"
    );
    format!("printf '%s\\n' '{line}' >> \"$d/session.jsonl\"")
}

fn usage_of(status: &serde_json::Value, slice: &str) -> serde_json::Value {
    status["slices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == slice)
        .map(|s| s["usage"].clone())
        .unwrap_or_default()
}

fn usd(usage: &serde_json::Value) -> f64 {
    usage["cost"]["usd"].as_f64().unwrap_or(-1.0)
}

#[test]
fn a_transcript_an_aider_line_and_a_signal_are_priced_in_status_and_a_users_price_changes_it() {
    // staging: Claude Code's transcript, a second message once `go` exists;
    // each printed as it is written, as an agent answers on its screen
    // while its transcript grows (a quiet agent's files are read only
    // every half minute).
    let staging = format!(
        "d=\"$HOME/.claude/projects/$(pwd -P | sed 's/[^a-zA-Z0-9]/-/g')\"; mkdir -p \"$d\"; {}; echo answered; \
         until [ -e go ]; do sleep 0.1; done; {}; echo answered again; exec sleep 60",
        claude_line("m1", 100_000, 0, 10_000),
        claude_line("m2", 1_000, 150_000, 20_000),
    );
    // marts: aider's line after a reply, then its prompt.
    let marts = "echo 'Tokens: 2.5k sent, 215 received. Cost: $0.0096 message, $0.0312 session.'; exec sleep 60";
    let repo = TestRepo::with_worktrees(&plan(&[("staging", &staging), ("marts", marts)]));
    let sup = Supervise::start(&repo, &[]);
    for slice in ["staging", "marts"] {
        cli(&repo.socket(), start_agent(slice)).expect("the agent starts");
    }
    // seeds: a wrapper's own count.
    repo.sliceboard(&[
        "signal", "usage", "--slice", "seeds", "--input", "1000000", "--model", "gpt-5",
    ])
    .ok();

    // $0.30 of input and $0.15 of output at the list price of Sonnet 4.5.
    let staging_usage = poll_some("staging's first message priced", WAIT, || {
        let usage = usage_of(&status_json(&repo), "staging");
        ((usd(&usage) - 0.45).abs() < 1e-6).then_some(usage)
    });
    assert_eq!(staging_usage["cost"]["estimated"], true, "{staging_usage}");
    // It grows while it is followed.
    std::fs::write(repo.worktree("staging").join("go"), "").unwrap();
    let staging_usage = poll_some("staging's second message added", WAIT, || {
        let usage = usage_of(&status_json(&repo), "staging");
        // + $0.003 input, $0.045 cache read, $0.30 output.
        ((usd(&usage) - 0.798).abs() < 1e-6).then_some(usage)
    });
    assert_eq!(
        staging_usage["usage"]["context"],
        serde_json::json!({"used": 151_000, "window": 200_000}),
        "{staging_usage}"
    );
    let marts_usage = poll_some("marts's cost line read", WAIT, || {
        let usage = usage_of(&status_json(&repo), "marts");
        (usd(&usage) > 0.0).then_some(usage)
    });
    // aider's own figure: no estimate.
    assert_eq!(marts_usage["cost"]["usd"], 0.0312, "{marts_usage}");
    assert_eq!(marts_usage["cost"]["estimated"], false, "{marts_usage}");
    assert_eq!(marts_usage["usage"]["by_model"][""]["input"], 2500);
    let status = status_json(&repo);
    let seeds_usage = usage_of(&status, "seeds");
    assert!((usd(&seeds_usage) - 1.25).abs() < 1e-6, "{seeds_usage}");
    let total = &status["usage_total"];
    assert!(
        (total["usd"].as_f64().unwrap() - (0.798 + 0.0312 + 1.25)).abs() < 1e-6,
        "{total}"
    );
    assert_eq!(total["estimated"], true);
    let table = repo.sliceboard(&["status"]).ok();
    assert!(table.contains("~$0.80 ctx 75%"), "{table}");
    assert!(table.contains("total ~$2.08 over"), "{table}");

    // The user's prices, read by the next supervisor; what agents reported
    // themselves is kept across it.
    repo.sliceboard(&["stop"]).ok();
    drop(sup);
    std::fs::create_dir_all(repo.home().join(".config/sliceboard")).unwrap();
    std::fs::write(
        repo.home().join(".config/sliceboard/config.toml"),
        "[prices]\n\"claude-sonnet\" = { input = 1.0, output = 5.0, cache_read = 0.0 }\n",
    )
    .unwrap();
    // No supervisor: status reads the files itself.
    let status = status_json(&repo);
    // 0.101 input + 0.15 output.
    assert!(
        (usd(&usage_of(&status, "staging")) - 0.251).abs() < 1e-6,
        "{status}"
    );
    assert_eq!(usage_of(&status, "marts")["cost"]["usd"], 0.0312);
    let _sup = Supervise::start(&repo, &[]);
    let staging_usage = poll_some("staging priced by the user's table", WAIT, || {
        let usage = usage_of(&status_json(&repo), "staging");
        ((usd(&usage) - 0.251).abs() < 1e-6).then_some(usage)
    });
    assert_eq!(staging_usage["cost"]["estimated"], true);
    assert!((usd(&usage_of(&status_json(&repo), "seeds")) - 1.25).abs() < 1e-6);
}

/// The state letter of a process (`T` when stopped).
fn process_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

#[test]
fn a_budget_calls_at_80_percent_pauses_the_agent_when_spent_and_raising_it_resumes() {
    let agent = "echo 'Tokens: 7k sent, 1k received. Cost: $0.021 message, $0.021 session.'; \
         until [ -e more ]; do sleep 0.1; done; \
         echo 'Tokens: 3k sent, 500 received. Cost: $0.009 message, $0.030 session.'; \
         while :; do date +%s%N >> ticks.txt; sleep 0.1; done";
    let text = plan(&[("staging", agent)]).replace(
        "name = \"staging\"\n",
        "name = \"staging\"\nbudget = { usd = 0.025 }\n",
    );
    assert!(text.contains("budget = "), "{text}");
    let repo = TestRepo::with_worktrees(&text);
    let _sup = Supervise::start(&repo, &[]);
    cli(&repo.socket(), start_agent("staging")).expect("the agent starts");

    let near = poll_some("the 80% call journaled", WAIT, || {
        repo.journal()
            .into_iter()
            .find(|e| e["event"] == "budget_near" && e["slice"] == "staging")
    });
    assert!(
        (near["spent"].as_f64().unwrap() - 0.84).abs() < 1e-6,
        "{near}"
    );
    assert!(
        !repo
            .journal()
            .iter()
            .any(|e| e["event"] == "budget_reached"),
        "not spent yet"
    );
    std::fs::write(repo.worktree("staging").join("more"), "").unwrap();
    let reached = poll_some("the budget spent, journaled", WAIT, || {
        repo.journal()
            .into_iter()
            .find(|e| e["event"] == "budget_reached" && e["slice"] == "staging")
    });
    assert_eq!(reached["budget"]["usd"], 0.025, "{reached}");
    poll_until("the agent paused", WAIT, || {
        repo.last_agent_status("staging").as_deref() == Some("paused")
    });
    let pid = status_json(&repo)["slices"][0]["agent"]["pid"]
        .as_i64()
        .expect("the paused agent's pid") as i32;
    poll_until("its group stopped", WAIT, || {
        process_state(pid) == Some('T')
    });
    let usage = usage_of(&status_json(&repo), "staging");
    assert_eq!(usage["stopped"], true, "{usage}");
    let table = repo.sliceboard(&["status"]).ok();
    assert!(table.contains("budget 120% (paused)"), "{table}");

    // Raised by its own size: $0.05, of which $0.03 is spent.
    let out = repo.sliceboard(&["raise-budget", "staging"]).ok();
    assert!(out.contains("budget raised to $0.05"), "{out}");
    poll_until("the agent running again", WAIT, || {
        repo.last_agent_status("staging").as_deref() == Some("running")
    });
    let ticks = repo.worktree("staging").join("ticks.txt");
    let before = std::fs::read_to_string(&ticks).unwrap_or_default().len();
    poll_until("it works again", WAIT, || {
        std::fs::read_to_string(&ticks).unwrap_or_default().len() > before
    });
    assert!(
        repo.journal()
            .iter()
            .any(|e| e["event"] == "budget_raised" && e["budget"]["usd"] == 0.05)
    );
    let usage = usage_of(&status_json(&repo), "staging");
    assert_eq!(usage["stopped"], false, "{usage}");
    // A slice without a budget has nothing to raise.
    let refused = repo.sliceboard(&["raise-budget", "marts"]);
    assert_ne!(refused.code, Some(0));
    repo.sliceboard(&["stop"]).ok();
}
