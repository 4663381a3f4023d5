//! Agents that hit their usage limit go on by themselves when it resets
//! (`[agent] resume_after_limit`), and the journal says so.

use crate::common::supervised::{Supervise, cli, plan, start_agent};
use crate::common::{TestRepo, WAIT, poll_some, toml_string};

/// Prints the API's limit line with a reset `$1` seconds ahead.
const LIMIT: &str = "printf 'Claude AI usage limit reached|%s\\n' $(( $(date +%s) + 5 ))";

/// Reads one line and writes the time it came and the line to `went-on.txt`.
const GO_ON: &str =
    "IFS= read -r line; printf '%s %s\\n' \"$(date +%s)\" \"$line\" > went-on.txt; exec sleep 30";

#[test]
fn an_agent_at_its_usage_limit_goes_on_when_the_limit_resets_and_it_is_journaled() {
    // staging stays at its prompt after the limit (a hook says idle);
    // marts ends on it and is restarted with the resume command.
    let staging = format!("echo working; {LIMIT}; \"$SB\" signal idle; {GO_ON}");
    let marts = format!("echo working; {LIMIT}; exit 1");
    let text = plan(&[("staging", &staging), ("marts", &marts)]).replace(
        "[agent]\n",
        &format!(
            "[agent]\nresume_after_limit = true\nresume = {}\n",
            toml_string(GO_ON)
        ),
    );
    let repo = TestRepo::with_worktrees(&text);
    let _sup = Supervise::start(&repo, &[]);
    for slice in ["staging", "marts"] {
        cli(&repo.socket(), start_agent(slice)).expect("the agent starts");
    }

    let resets_at = |slice: &str| {
        poll_some(format!("{slice}'s limit journaled"), WAIT, || {
            repo.journal()
                .into_iter()
                .find(|e| e["event"] == "limit_hit" && e["slice"] == slice)
        })
    };
    for slice in ["staging", "marts"] {
        let hit = resets_at(slice);
        assert_eq!(hit["resumes"], true, "{hit}");
        assert!(
            hit["line"]
                .as_str()
                .unwrap()
                .starts_with("Claude AI usage limit reached|"),
            "{hit}"
        );
        let reset: jiff::Timestamp = hit["resets_at"].as_str().unwrap().parse().unwrap();

        let went_on = poll_some(format!("{slice} told to go on"), WAIT * 2, || {
            std::fs::read_to_string(repo.worktree(slice).join("went-on.txt"))
                .ok()
                .filter(|text| text.ends_with('\n'))
        });
        let (when, line) = went_on.trim_end().split_once(' ').unwrap();
        assert_eq!(line, "continue", "{slice}");
        assert!(
            when.parse::<i64>().unwrap() >= reset.as_second(),
            "{slice} went on at {when}, before its limit reset at {reset}"
        );
    }
    let resumed: Vec<String> = repo
        .journal()
        .iter()
        .filter(|e| e["event"] == "resumed_after_limit")
        .map(|e| format!("{} {}", e["slice"].as_str().unwrap(), e["how"]))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        resumed,
        [
            "marts \"restarted with the resume command and sent “continue”\"",
            "staging \"sent “continue”\"",
        ]
    );
    assert_eq!(repo.last_agent_status("marts").as_deref(), Some("running"));
    // Sliceboard sent them, not the operator.
    for prompt in repo
        .journal()
        .iter()
        .filter(|e| e["event"] == "prompt_sent")
    {
        assert_eq!(prompt["actor"], "sliceboard", "{prompt}");
    }
}
