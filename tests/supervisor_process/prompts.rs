//! Prompts to agents without attaching: `sliceboard send`.

use crate::common::supervised::{Fixture, sliceboard};
use crate::common::{WAIT, poll_some};

/// An agent that turns bracketed paste on, reads one line with the
/// terminal's echo off, and writes what it got, escapes visible, to
/// `got.txt` in its worktree.
const READER: &str = "printf '\\033[?2004h'; stty -echo; IFS= read -r line; \
                      printf '%s\\n' \"$line\" | cat -v > got.txt; exec sleep 30";

#[test]
fn send_pastes_one_prompt_into_several_agents_starting_them_and_journals_it() {
    let f = Fixture::new(&[("staging", READER), ("marts", READER)], &[]);
    // Neither agent runs: each is started, then given the prompt once it
    // reads pastes.
    let sent = sliceboard(
        &f.repo,
        &["send", "staging", "marts", "--", "rename", "the column"],
    )
    .ok();
    assert_eq!(sent, "sent to staging\nsent to marts\n");
    for slice in ["staging", "marts"] {
        let got = poll_some(format!("{slice}'s agent read the prompt"), WAIT, || {
            std::fs::read_to_string(f.repo.worktree(slice).join("got.txt"))
                .ok()
                .filter(|text| text.ends_with('\n'))
        });
        assert_eq!(got, "^[[200~rename the column^[[201~\n", "{slice}");
    }
    let prompts: Vec<String> = f
        .repo
        .journal()
        .iter()
        .filter(|e| e["event"] == "prompt_sent")
        .map(|e| format!("{} {}", e["slice"], e["text"]))
        .collect();
    assert_eq!(
        prompts,
        [
            "\"staging\" \"rename the column\"",
            "\"marts\" \"rename the column\""
        ]
    );

    // An unknown slice is refused before anything is sent.
    let refused = sliceboard(&f.repo, &["send", "staging", "nope", "--", "hi"]).fails();
    assert!(refused.contains("nope"), "{refused}");
}

#[test]
fn slice_placeholders_in_the_agent_command_reach_the_agent_expanded() {
    let f = Fixture::new(
        &[(
            "marts",
            "echo {slice}/{slice_ident}/{repo}/${SLICEBOARD_SLICE} > who.txt; exec sleep 30",
        )],
        &[],
    );
    sliceboard(&f.repo, &["send", "marts", "--", "hello"]).ok();
    let who = poll_some("the agent wrote who it is", WAIT, || {
        std::fs::read_to_string(f.repo.worktree("marts").join("who.txt"))
            .ok()
            .filter(|text| text.ends_with('\n'))
    });
    let repo = f
        .repo
        .root
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert_eq!(who, format!("marts/marts/{repo}/marts\n"));
}
