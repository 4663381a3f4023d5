//! Every plan problem `sliceboard check` reports, with its line, key and fix,
//! on a real repository. Messages are snapshots (tests/snapshots/).

use crate::common;

use common::{PLAN, TestRepo};

/// Runs `check` on `plan` and returns what it printed, paths masked.
fn check(plan: &str) -> String {
    let repo = TestRepo::new();
    repo.write("sliceboard.toml", plan);
    let err = repo.sliceboard(&["check"]).fails();
    repo.mask(&err)
}

fn snapshot(name: &str, plan: &str) {
    let output = check(plan);
    insta::assert_snapshot!(name, output);
}

#[test]
fn unknown_top_level_key_suggests_the_right_one() {
    snapshot("unknown_top_level_key", &PLAN.replace("[agent]", "[agnet]"));
}

#[test]
fn unknown_key_in_a_slice() {
    snapshot(
        "unknown_slice_key",
        &PLAN.replace(
            "prompt = \"Migrate the marts.\"",
            "promt = \"Migrate the marts.\"",
        ),
    );
}

#[test]
fn duplicate_slice_names() {
    snapshot(
        "duplicate_slice",
        &format!("{PLAN}\n[[slice]]\nname = \"marts\"\nowns = [\"docs/**\"]\n"),
    );
}

#[test]
fn names_unusable_as_branch_or_folder() {
    let mut plan = PLAN.to_owned();
    for bad in ["models/x", "-dash", "x.lock", "a..b", "with space"] {
        plan.push_str(&format!(
            "\n[[slice]]\nname = \"{bad}\"\nowns = [\"other/**\"]\n"
        ));
    }
    snapshot("bad_names", &plan);
}

#[test]
fn after_naming_a_missing_slice() {
    snapshot(
        "after_missing",
        &PLAN.replace("after = [\"staging\"]", "after = [\"stagin\"]"),
    );
}

#[test]
fn after_forming_a_cycle_prints_the_cycle() {
    let plan = PLAN.replace(
        "owns = [\"seeds/**\", \"macros/**\"]",
        "owns = [\"seeds/**\", \"macros/**\"]\nafter = [\"marts\"]",
    );
    let plan = plan.replace(
        "owns = [\"models/staging/**\"]",
        "owns = [\"models/staging/**\"]\nafter = [\"seeds\"]",
    );
    let output = check(&plan);
    assert!(
        output.contains("forms a cycle: staging -> seeds -> marts -> staging"),
        "{output}"
    );
    insta::assert_snapshot!("after_cycle", output);
}

#[test]
fn overlapping_owns_print_the_colliding_globs_and_paths() {
    let plan = PLAN.replace(
        "owns = [\"models/marts/**\"]",
        "owns = [\"models/**/*.sql\"]",
    );
    let output = check(&plan);
    assert!(output.contains("models/staging/stg_orders.sql"), "{output}");
    insta::assert_snapshot!("overlap_paths", output);

    let plan = PLAN.replace(
        "owns = [\"models/marts/**\"]",
        "owns = [\"models/marts/**\", \"models/staging/stg_orders.sql\"]",
    );
    snapshot("overlap_globs", &plan);
}

#[test]
fn empty_or_missing_owns() {
    let plan = PLAN
        .replace("owns = [\"models/marts/**\"]\n", "owns = []\n")
        .replace("owns = [\"seeds/**\", \"macros/**\"]\n", "");
    snapshot("empty_owns", &plan);
}

#[test]
fn base_branch_that_does_not_exist() {
    snapshot(
        "missing_base",
        &PLAN.replace("base = \"main\"", "base = \"mian\""),
    );
}

#[test]
fn bad_globs_templates_and_env() {
    let plan = PLAN
        .replace("owns = [\"models/marts/**\"]", "owns = [\"/models/marts/**\", \"models/[\"]")
        .replace("target = \"dev_{slice_ident}\"", "target = \"dev_{name}\"")
        .replace(
            "[agent]\n",
            "branch = \"slice\"\nmax_running = 0\n\n[agent]\nenv = { SLICEBOARD_SLICE = \"x\", \"1BAD\" = \"y\" }\n",
        );
    snapshot("bad_values", &plan);
}

#[test]
fn missing_agent_and_no_slices() {
    snapshot("no_agent_no_slices", "base = \"main\"\n");
}

#[test]
fn toml_syntax_error_names_the_line() {
    snapshot("syntax", &PLAN.replace("name = \"marts\"", "name = marts"));
}

#[test]
fn a_valid_plan_prints_the_resolved_plan() {
    let repo = TestRepo::new();
    repo.write("sliceboard.toml", PLAN);
    let out = repo.sliceboard(&["check"]).ok();
    insta::with_settings!({filters => vec![(r"\([0-9a-f]{10}\)", "([HASH])")]}, {
        insta::assert_snapshot!("valid_plan", repo.mask(&out));
    });
    let json: serde_json::Value =
        serde_json::from_str(&repo.sliceboard(&["check", "--json"]).ok()).unwrap();
    assert_eq!(
        json["merge_order"],
        serde_json::json!(["staging", "marts", "seeds"])
    );
    assert_eq!(json["resolved"][1]["branch"], "slice/marts");
}

#[test]
fn init_writes_a_starter_plan_that_checks() {
    let repo = TestRepo::new();
    // The test repository holds a dbt project's files; with no dbt to
    // parse it, init says so and suggests slices by folder.
    let output = repo
        .command(common::BIN, &repo.root)
        .arg("init")
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert!(out.contains("with 2 slices starting from main"), "{out}");
    assert!(
        err.contains("writing a starter plan by folder instead"),
        "{err}"
    );
    let plan = std::fs::read_to_string(repo.root.join("sliceboard.toml")).unwrap();
    assert!(plan.contains("base = \"main\""));
    assert!(plan.contains("owns = [\"models/marts/\"]"));
    repo.sliceboard(&["check"]).ok();
    let err = repo.sliceboard(&["init"]).fails();
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn no_plan_says_to_run_init() {
    let repo = TestRepo::new();
    let err = repo.sliceboard(&["status"]).fails();
    assert!(err.contains("run `sliceboard init`"), "{err}");
    let outside = tempfile::tempdir().unwrap();
    let err = repo.sliceboard_in(outside.path(), &["status"]).fails();
    assert!(err.contains("is not inside a git repository"), "{err}");
}

#[test]
fn agent_scrollback_and_waiting_patterns() {
    snapshot(
        "agent_terminal_settings",
        &PLAN.replace(
            "[agent]\n",
            "[agent]\nscrollback = -1\nwaiting_patterns = [\"continue\\\\?\", \"(y/n\"]\n",
        ),
    );
}

#[test]
fn empty_setup_commands_and_bad_hooks_values() {
    let plan = PLAN.replace(
        "[agent]",
        "[worktree]\nsetup = [\"dbt deps\", \"  \"]\n\n[agent]\nhooks = \"sometimes\"",
    );
    let output = check(&plan);
    assert!(
        output.contains("worktree.setup: holds an empty command"),
        "{output}"
    );
    assert!(
        output.contains("agent.hooks: \"sometimes\" is neither \"auto\" nor \"off\""),
        "{output}"
    );
}

#[test]
fn slices_whose_names_collide_after_templating_are_refused() {
    let plan = "base = \"main\"\n\n[agent]\ncommand = \"claude\"\n\n\
        [[slice]]\nname = \"a-b\"\nowns = [\"models/x/**\"]\n\n\
        [[slice]]\nname = \"a_b\"\nowns = [\"models/y/**\"]\n\n\
        [[slice]]\nname = \"Foo\"\nowns = [\"models/z/**\"]\n\n\
        [[slice]]\nname = \"foo\"\nowns = [\"models/w/**\"]\n";
    let output = check(plan);
    for key in ["dbt.target", "dbt.schema"] {
        assert!(
            output.contains(&format!("{key}: gives slices `a-b` and `a_b` the same")),
            "{output}"
        );
    }
    for key in ["branch", "worktrees", "dbt.target", "dbt.schema"] {
        assert!(
            output.contains(&format!("{key}: gives slices `Foo` and `foo` the same")),
            "{output}"
        );
    }
    // Names that differ after templating pass.
    let fine = plan
        .replace("\"a_b\"", "\"a_c\"")
        .replace("\"foo\"", "\"fop\"");
    let repo = TestRepo::new();
    repo.write("sliceboard.toml", &fine);
    repo.sliceboard(&["check"]).ok();
}

#[test]
fn bad_variants_are_refused_with_their_line() {
    let with = |value: &str| {
        PLAN.replace(
            "prompt = \"Migrate the marts.\"",
            &format!("prompt = \"Migrate the marts.\"\nvariants = {value}"),
        )
    };
    for (value, expected) in [
        ("1", "must be a number from 2 to 9"),
        ("12", "must be a number from 2 to 9"),
        ("\"three\"", "must be a number from 2 to 9"),
        (
            "[{ agent = \"codex\" }, { model = \"x\" }]",
            "entry 2: unknown key `model`",
        ),
        (
            "[{ agent = \"\" }, {}]",
            "entry 1: `agent` must be a non-empty string",
        ),
        ("[3, 4]", "entry 1 is not a table"),
    ] {
        let out = check(&with(value));
        assert!(out.contains("slice \"marts\" > variants"), "{value}: {out}");
        assert!(out.contains(expected), "{value}: {out}");
        assert!(
            out.contains("sliceboard.toml:"),
            "{value}: no line in {out}"
        );
    }
    // A variant's name may not be taken by another slice.
    let taken = with("2").replace("name = \"seeds\"", "name = \"marts.2\"");
    let out = check(&taken);
    assert!(
        out.contains("slice \"marts.2\" > name: is already used by the slice on line"),
        "{out}"
    );
    // Variants share their paths without an overlap error.
    let repo = TestRepo::new();
    repo.write("sliceboard.toml", &with("3"));
    let ok = repo.sliceboard(&["check"]).ok();
    assert!(
        ok.contains("marts.3") && ok.contains("variant of marts"),
        "{ok}"
    );
}

#[test]
fn an_agent_command_with_an_unknown_placeholder_is_refused_with_its_line() {
    let plan = PLAN.replacen(
        "[agent]\n",
        "[agent]\nresume = \"bash agents/{slcie}.sh --continue ${HOME}\"\n",
        1,
    );
    let out = check(&plan);
    assert!(
        out.contains("agent.resume: `bash agents/{slcie}.sh --continue ${HOME}` uses unknown placeholder {slcie}"),
        "{out}"
    );
    assert!(out.contains("sliceboard.toml:4: agent.resume"), "{out}");
}

#[test]
fn braces_of_the_agent_commands_own_pass_check() {
    let plan = PLAN.replacen(
        "[agent]\n",
        "[agent]\nresume = \"awk '{print}' notes.txt; jq '{name}' x.json; echo ${HOME}\"\n",
        1,
    );
    let repo = TestRepo::new();
    repo.write("sliceboard.toml", &plan);
    repo.sliceboard(&["check"]).ok();
}

#[test]
fn sandbox_ports_and_teardown_mistakes() {
    let plan = PLAN
        .replace(
            "[agent]",
            "[worktree]\nports = [\"web\", \"Web\", \"web\"]\nteardown = [\"\"]\n\n[agent]\nsandbox = \"docker\"\nnetwork = \"off\"\nwritable = [\"relative/path\"]\npass_env = [\"NOT-A-NAME\"]\nsandbox_command = \"podman run img\"",
        )
        .replace(
            "prompt = \"Migrate the marts.\"",
            "prompt = \"Migrate the marts.\"\nnetwork = \"none\"\nagent = \"serve --port {port.api}\"",
        );
    snapshot("sandbox_mistakes", &plan);
}

#[test]
fn a_sandbox_command_must_run_the_agent() {
    let plan = PLAN.replace(
        "[agent]",
        "[agent]\nsandbox = \"command\"\nsandbox_command = \"podman run --network {network} {image} img\"",
    );
    snapshot("sandbox_command_mistakes", &plan);
}
