//! sliceboard at home in the shell: completions that know the plan's
//! slices, a man page that renders, a version that names its commit.

use crate::common;

use std::process::Command;

use common::{BIN, PLAN, TestRepo};

#[test]
fn bash_completes_commands_and_the_plans_slice_names() {
    let repo = TestRepo::new();
    repo.write("sliceboard.toml", PLAN);
    let complete = |words: &str, current: usize| {
        let script = format!(
            "source <({BIN} completions bash) && complete -p sliceboard >/dev/null && \
             COMP_WORDS=({words}); COMP_CWORD={current}; \
             _clap_complete_sliceboard sliceboard \"${{COMP_WORDS[$COMP_CWORD]}}\" x; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\""
        );
        let out = repo
            .command("bash", &repo.root)
            .args(["-c", &script])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let slices = complete("sliceboard approve ''", 2);
    for slice in ["staging", "marts", "seeds"] {
        assert!(slices.lines().any(|l| l == slice), "{slice} in {slices}");
    }
    let commands = complete("sliceboard revi", 1);
    assert!(commands.lines().any(|l| l == "review-send"), "{commands}");
}

#[test]
fn the_man_page_renders() {
    let page = Command::new(BIN).arg("man").output().unwrap();
    assert!(page.status.success());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sliceboard.1");
    std::fs::write(&file, &page.stdout).unwrap();
    let shown = Command::new("man")
        .arg("-l")
        .arg(&file)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .expect("man runs (install man-db)");
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.status.success(), "{shown:?}");
    assert!(
        text.contains("NAME") && text.contains("sliceboard"),
        "{text}"
    );
    assert!(
        text.contains("review-send"),
        "every command is listed: {text}"
    );
}

#[test]
fn the_version_names_the_commit_and_the_build_day() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    let version = String::from_utf8(out.stdout).unwrap();
    let head = Command::new("git")
        .args(["rev-parse", "--short=10", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let head = String::from_utf8(head.stdout).unwrap();
    assert!(
        version.starts_with(&format!(
            "sliceboard {} ({}, built 20",
            env!("CARGO_PKG_VERSION"),
            head.trim()
        )),
        "{version}"
    );
}

#[test]
fn status_is_colored_on_a_terminal_and_plain_with_no_color_or_a_pipe() {
    let repo = TestRepo::new();
    repo.write("sliceboard.toml", PLAN);
    repo.commit_all("plan");
    repo.sliceboard(&["up"]).ok();
    // `script` gives the command a terminal of its own.
    let on_terminal = |no_color: Option<&str>| {
        let mut command = repo.command("script", &repo.root);
        command.args(["-qc", &format!("{BIN} status"), "/dev/null"]);
        match no_color {
            Some(value) => command.env("NO_COLOR", value),
            None => command.env_remove("NO_COLOR"),
        };
        String::from_utf8(command.output().unwrap().stdout).unwrap()
    };
    let colored = on_terminal(None);
    assert!(colored.contains("\u{1b}[1mSLICE\u{1b}[0m"), "{colored:?}");
    let plain = on_terminal(Some("1"));
    assert!(
        plain.contains("SLICE") && !plain.contains('\u{1b}'),
        "{plain:?}"
    );
    let piped = repo.sliceboard(&["status"]).ok();
    assert!(!piped.contains('\u{1b}'), "{piped:?}");
}
