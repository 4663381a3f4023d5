//! Review comments on a slice's diff from a shell (`comment`, `comments`,
//! `review-send`): one review reaches the agent as one paste, comments
//! follow their lines or go outdated, and they outlive a killed supervisor.

use crate::common::supervised::{Fixture, Supervise, cli, name, sliceboard};
use crate::common::{WAIT, poll_some, poll_until};

/// An agent that turns bracketed paste on and writes every line it reads,
/// escapes visible, to `got.txt` in its worktree.
const PASTE_READER: &str = "printf '\\033[?2004h'; stty -echo; \
     while IFS= read -r line; do printf '%s\\n' \"$line\" | cat -v >> got.txt; done";

const FCT: &str = "models/marts/fct_orders.sql";
const DIM: &str = "models/marts/dim_users.sql";

/// Writes a comment once the slice's diff shows the lines (the live diff
/// follows the worktree within moments); what the command said.
fn comment_when_shown(f: &Fixture, at: &str, text: &str) -> String {
    poll_some(format!("a comment on {at}"), WAIT, || {
        let run = sliceboard(&f.repo, &["comment", "marts", at, "--", text]);
        (run.code == Some(0)).then(|| run.stdout.clone())
    })
}

fn comments_json(f: &Fixture) -> serde_json::Value {
    let out = sliceboard(&f.repo, &["comments", "marts", "--json"]).ok();
    serde_json::from_str(&out).unwrap_or_else(|err| panic!("comments --json ({err}): {out}"))
}

/// Each comment's id, its first line now (`None`: outdated) and text.
fn placed(review: &serde_json::Value) -> Vec<(u64, Option<u64>, String)> {
    review["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_u64().unwrap(),
                c["placed"]["first"]["line"].as_u64(),
                c["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn comments_on_two_hunks_reach_the_agent_as_one_review_and_are_journaled() {
    let f = Fixture::new(&[("marts", PASTE_READER)], &[]);
    let worktree = f.repo.worktree("marts");
    std::fs::write(
        worktree.join(FCT),
        "select\n    order_id,\n    amount\nfrom {{ ref('stg_orders') }}\n",
    )
    .unwrap();
    std::fs::write(
        worktree.join(DIM),
        "select\n    user_id,\n    email\nfrom {{ ref('stg_users') }}\n",
    )
    .unwrap();
    let said = comment_when_shown(&f, &format!("{FCT}:2-3"), "call them id and amount_usd");
    assert_eq!(said, format!("comment #1 on {FCT}:2-3\n"));
    comment_when_shown(&f, &format!("{DIM}:3"), "email is PII: leave it out");

    // A line the diff does not show is refused with what it shows.
    let refused = sliceboard(
        &f.repo,
        &["comment", "marts", &format!("{DIM}:40"), "--", "x"],
    )
    .fails();
    assert!(
        refused.contains(&format!(
            "{DIM}:40 is not a line the diff shows (it shows 1-4)"
        )),
        "{refused}"
    );
    let listed = sliceboard(&f.repo, &["comments", "marts"]).ok();
    assert_eq!(
        listed,
        format!(
            "#1 {FCT}:2-3  call them id and amount_usd\n#2 {DIM}:3  email is PII: leave it out\n"
        )
    );

    // Approving it with the review unsent asks for a second look.
    let refused = sliceboard(&f.repo, &["approve", "marts"]).fails();
    assert!(
        refused.contains("2 review comments on it not sent yet"),
        "{refused}"
    );

    let sent = sliceboard(&f.repo, &["review-send", "marts"]).ok();
    assert_eq!(sent, "review of 2 comments sent to marts\n");
    let got = poll_some("the agent read the whole review", WAIT, || {
        std::fs::read_to_string(worktree.join("got.txt"))
            .ok()
            .filter(|text| text.contains("^[[201~"))
    });
    assert_eq!(got.matches("^[[200~").count(), 1, "one paste: {got}");
    assert_eq!(got.matches("^[[201~").count(), 1, "one paste: {got}");
    for part in [
        format!(
            "1. {FCT}:2-3\n```diff\n@@ -1 +1,4 @@\n-select * from {{{{ ref('stg_orders') }}}}\n+select\n+    order_id,\n+    amount\n+from {{{{ ref('stg_orders') }}}}\n```\ncall them id and amount_usd\n"
        ),
        format!("2. {DIM}:3\n```diff\n"),
        "+    email\n".to_owned(),
        "email is PII: leave it out\n".to_owned(),
    ] {
        assert!(got.contains(&part), "{part:?} in {got}");
    }

    // Sent comments go; the review is journaled as the prompt it was; the
    // branch tip is the last look.
    let after = sliceboard(&f.repo, &["comments", "marts"]).ok();
    assert!(
        after.starts_with("marts: no review comments\nlast look: "),
        "{after}"
    );
    assert!(after.contains("(review sent, "), "{after}");
    let journaled: Vec<String> = f
        .repo
        .journal()
        .iter()
        .filter(|e| e["event"] == "prompt_sent" && e["slice"] == "marts")
        .map(|e| e["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(journaled.len(), 1, "{journaled:?}");
    assert!(journaled[0].contains("email is PII"), "{}", journaled[0]);
    let nothing = sliceboard(&f.repo, &["review-send", "marts"]).fails();
    assert!(
        nothing.contains("marts has no review comments to send"),
        "{nothing}"
    );
}

#[test]
fn comments_follow_their_lines_go_outdated_when_rewritten_and_outlive_a_killed_supervisor() {
    let mut f = Fixture::new(&[], &[]);
    let file = f.repo.worktree("marts").join(FCT);
    std::fs::write(&file, "select\n    order_id,\n    amount\nfrom orders\n").unwrap();
    comment_when_shown(&f, &format!("{FCT}:2"), "say id");
    comment_when_shown(&f, &format!("{FCT}:3"), "which currency?");
    assert_eq!(
        placed(&comments_json(&f)),
        [
            (1, Some(2), "say id".into()),
            (2, Some(3), "which currency?".into())
        ]
    );

    // Two lines inserted above the first comment's line, the second's
    // line rewritten.
    std::fs::write(
        &file,
        "select\n    -- keys\n    -- first\n    order_id,\n    amount_usd\nfrom orders\n",
    )
    .unwrap();
    let moved = [
        (1, Some(4), "say id".to_owned()),
        (2, None, "which currency?".to_owned()),
    ];
    poll_until("the comments moved with the diff", WAIT, || {
        placed(&comments_json(&f)) == moved
    });
    let listed = sliceboard(&f.repo, &["comments", "marts"]).ok();
    assert!(
        listed.contains(&format!("#2 {FCT}:3 (outdated)  which currency?")),
        "{listed}"
    );

    // SIGKILL: nothing saved at shutdown; the comments were saved as they
    // were written.
    f.sup.kill();
    f.sup = Supervise::start(&f.repo, &[]);
    assert_eq!(placed(&comments_json(&f)), moved);
    let edited = sliceboard(&f.repo, &["comment", "marts", "--edit", "2", "--", "USD?"]).ok();
    assert_eq!(edited, format!("comment #2 on {FCT}:3 changed\n"));
    let deleted = sliceboard(&f.repo, &["comment", "marts", "--delete", "1"]).ok();
    assert_eq!(deleted, format!("comment #1 on {FCT}:4 deleted\n"));
    assert_eq!(placed(&comments_json(&f)), [(2, None, "USD?".to_owned())]);
}

#[test]
fn the_diff_since_the_last_look_holds_only_what_changed_after_the_approval() {
    use sliceboard::domain::Command;
    use sliceboard::domain::comments::SinceLook;
    let f = Fixture::new(&[], &[]);
    let since = || {
        cli(
            &f.socket(),
            Command::DiffSince {
                slice: name("marts"),
            },
        )
    };
    let refused = since().unwrap_err();
    assert!(
        refused
            .contains("no last look at marts yet: approving it or sending it a review records one"),
        "{refused}"
    );
    let commit = f
        .repo
        .commit_in("marts", &[(FCT, "select 1 as id\n")], "one");
    sliceboard(&f.repo, &["approve", "marts", "--force"]).ok();
    std::fs::write(f.repo.worktree("marts").join(DIM), "select 2 as id\n").unwrap();
    let look: SinceLook = poll_some(
        "the diff since the approval holds the new change",
        WAIT,
        || {
            let look: SinceLook = serde_json::from_str(&since().ok()?).unwrap();
            let paths: Vec<&str> = look.diff.files.iter().map(|f| f.path.as_str()).collect();
            (paths == [DIM]).then_some(look)
        },
    );
    assert_eq!(
        (look.looked.commit.as_str(), look.looked.how.as_str()),
        (commit.as_str(), "approved")
    );
    // The whole diff still holds both.
    let whole = sliceboard(&f.repo, &["status", "--json"]).ok();
    assert!(whole.contains(FCT) && whole.contains(DIM), "{whole}");
}
