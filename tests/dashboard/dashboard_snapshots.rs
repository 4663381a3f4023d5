//! The dashboard drawn on ratatui's TestBackend: the board, each tab, the
//! grid, help and confirmations, at 80x24 and 200x50.

use crate::common;

use std::path::PathBuf;
use std::sync::Arc;

use common::ui::{draw, find, name, press, whole_frame};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::{Color, Modifier};

use sliceboard::dbt::run_results;
use sliceboard::domain::board::{Board, BoardUpdate, EventLine};
use sliceboard::domain::diff::{
    ChangeKind, DiffLine, FileDiff, Hunk, LineKind, SliceDiff, Stage, WatchMode,
};
use sliceboard::domain::ownership::Ownership;
use sliceboard::domain::{Activity, ActivitySource, AgentStatus, Command, Lifecycle, SliceName};
use sliceboard::session::{Screen, Size};
use sliceboard::ui::app::{App, Asked, Confirm, Effect, Mode, SliceRow};
use sliceboard::ui::keymap::Keymap;

fn row(
    slice: &str,
    lifecycle: Lifecycle,
    status: AgentStatus,
    activity: Option<Activity>,
) -> SliceRow {
    let mut row = SliceRow::new(
        name(slice),
        lifecycle,
        PathBuf::from(format!("/work/shop.slices/{slice}")),
    );
    row.status = status;
    row.activity = activity;
    let at = |t: &str| Some(t.parse::<jiff::Timestamp>().unwrap());
    row.events = vec![
        EventLine {
            at: at("2026-11-23T18:00:00Z"),
            text: format!(
                "worktree created at /work/shop.slices/{slice} on new branch slice/{slice} from 1a2b3c4d5e; a long line wraps rather than being cut at the pane's edge"
            ),
        },
        EventLine {
            at: at("2026-11-24T12:00:01Z"),
            text: "agent running".into(),
        },
        EventLine {
            at: at("2026-11-24T12:00:05Z"),
            text: "activity waiting from claude Notification".into(),
        },
    ];
    row.dbt_log = [
        "12:00:01 Running with dbt=1.11.16",
        "12:00:03 1 of 7 OK loaded seed file dbt_staging.orders",
        "12:00:04 Done. PASS=4 WARN=0 ERROR=2 SKIP=1",
    ]
    .map(String::from)
    .into();
    row.logs = (1..=40)
        .map(|i| format!("logs/airflow/task.log: [2026-11-24 12:00:{i:02}] task step {i}"))
        .collect();
    row.follows_logs = true;
    row.diff_mode = WatchMode::Events;
    row
}

/// Which slice owns what, as the plan says.
fn ownership() -> Ownership {
    let globs: Vec<(SliceName, Vec<String>)> = [
        ("staging", "models/staging/**"),
        ("intermediate", "models/intermediate/**"),
        ("marts", "models/marts/**"),
        ("seeds", "seeds/**"),
        ("docs", "docs/**"),
    ]
    .map(|(n, g)| (name(n), vec![g.to_string()]))
    .into();
    Ownership::new(globs.iter().map(|(n, g)| (n, g.as_slice()))).unwrap()
}

/// A slice's new diff as the supervisor sends it: with the ownership
/// flags of every slice, computed again over every slice's diff (as the
/// server's `Hub::diff` does).
fn diff_update(app: &App, slice: &str, diff: SliceDiff, error: Option<String>) -> BoardUpdate {
    let slice = name(slice);
    let diff = Arc::new(diff);
    let flags = {
        let changed: Vec<(SliceName, Vec<&str>)> = app
            .board
            .slices
            .iter()
            .filter_map(|row| {
                let diff = if row.name == slice {
                    &diff
                } else {
                    row.diff.as_ref()?
                };
                Some((row.name.clone(), diff.paths().collect()))
            })
            .collect();
        ownership().flag_changes(&changed)
    };
    BoardUpdate::Diff {
        slice,
        diff,
        mode: WatchMode::Events,
        error,
        flags,
    }
}

fn apply_diff(app: &mut App, slice: &str, diff: SliceDiff, error: Option<String>) {
    let update = diff_update(app, slice, diff, error);
    app.apply(update);
}

fn line(kind: LineKind, old: Option<u32>, new: Option<u32>, text: &str) -> DiffLine {
    DiffLine {
        kind,
        old_line: old,
        new_line: new,
        text: text.into(),
    }
}

fn file(path: &str, kind: ChangeKind, added: usize, removed: usize, hunks: Vec<Hunk>) -> FileDiff {
    FileDiff {
        path: path.into(),
        old_path: None,
        kind,
        stage: Stage::Tracked,
        binary: false,
        added,
        removed,
        hunks: Arc::new(hunks),
        lines_omitted: 0,
    }
}

/// staging migrated one model, added a schema file and touched one of
/// marts' models, which marts changed too.
fn diffs(app: &mut App) {
    use LineKind::{Added, Context, Removed};
    let stg_orders = file(
        "models/staging/stg_orders.sql",
        ChangeKind::Modified,
        3,
        2,
        vec![
            Hunk {
                header: "@@ -1,4 +1,5 @@".into(),
                lines: vec![
                    line(Context, Some(1), Some(1), "with source as ("),
                    line(
                        Removed,
                        Some(2),
                        None,
                        "    select * from {{ source('shop', 'orders') }} where nvl(status, 'x') != 'x'",
                    ),
                    line(
                        Added,
                        None,
                        Some(2),
                        "    select * from {{ source('shop', 'orders') }}",
                    ),
                    line(
                        Added,
                        None,
                        Some(3),
                        "    where coalesce(status, 'x') != 'x' -- duckdb",
                    ),
                    line(Context, Some(3), Some(4), ")"),
                    line(Context, Some(4), Some(5), "select id, user_id from source"),
                ],
            },
            Hunk {
                header: "@@ -20,3 +21,3 @@ final as (".into(),
                lines: vec![
                    line(Context, Some(20), Some(21), "select"),
                    line(Removed, Some(21), None, "    getdate() as loaded_at"),
                    line(Added, None, Some(22), "    current_timestamp as loaded_at"),
                    line(Context, Some(22), Some(23), "from final"),
                ],
            },
        ],
    );
    let mut schema = file(
        "models/staging/schema.yml",
        ChangeKind::Added,
        2,
        0,
        vec![Hunk {
            header: "@@ -0,0 +1,2 @@".into(),
            lines: vec![
                line(Added, None, Some(1), "version: 2"),
                line(Added, None, Some(2), "models:"),
            ],
        }],
    );
    schema.stage = Stage::Untracked;
    let dim_users = |added| {
        let mut lines = vec![line(
            Removed,
            Some(1),
            None,
            "select * from {{ ref('stg_users') }}",
        )];
        for n in 1..=added {
            lines.push(line(
                Added,
                None,
                Some(n as u32),
                "select id, name from {{ ref('stg_users') }}",
            ));
        }
        let hunk = Hunk {
            header: format!("@@ -1 +1,{added} @@"),
            lines,
        };
        file(
            "models/marts/dim_users.sql",
            ChangeKind::Modified,
            added,
            1,
            vec![hunk],
        )
    };
    let diff = |files: Vec<FileDiff>| SliceDiff {
        base: Some("3e5db70a1b2c3d4e5f60718293a4b5c6d7e8f901".into()),
        files,
    };
    let mut files = vec![stg_orders, schema, dim_users(1)];
    files.sort_by(|a, b| a.path.cmp(&b.path));
    apply_diff(app, "staging", diff(files), None);
    apply_diff(app, "marts", diff(vec![dim_users(4)]), None);
    apply_diff(app, "intermediate", diff(Vec::new()), None);
}

fn app() -> App {
    let mut slices = vec![
        row(
            "staging",
            Lifecycle::Active,
            AgentStatus::Running,
            Some(Activity::Waiting),
        ),
        row(
            "intermediate",
            Lifecycle::Active,
            AgentStatus::Running,
            Some(Activity::Busy),
        ),
        row("marts", Lifecycle::Active, AgentStatus::Paused, None),
        row(
            "seeds",
            Lifecycle::Active,
            AgentStatus::Exited { code: Some(1) },
            None,
        ),
        row("docs", Lifecycle::Ready, AgentStatus::NotStarted, None),
        row(
            "exports",
            Lifecycle::Active,
            AgentStatus::Running,
            Some(Activity::Done),
        ),
    ];
    // Where each activity came from: the agents' hooks, or the screen.
    slices[0].activity_source = Some(ActivitySource::Signal);
    slices[0].last_signal = Some("waiting from claude Notification".into());
    slices[1].activity_source = Some(ActivitySource::Screen);
    slices[5].activity_source = Some(ActivitySource::Signal);
    slices[0].dbt =
        Some(run_results::parse(include_str!("../fixtures/dbt_logs/run_results.json")).unwrap());
    let board = Board {
        repo: "/work/shop".into(),
        slices,
        queue: Default::default(),
        plan_problem: None,
        guide: None,
    };
    let mut app = App::new(board, Keymap::default());
    app.fixed_now = Some(
        "2026-11-24T12:30:00Z"
            .parse::<jiff::Timestamp>()
            .unwrap()
            .to_zoned_datetime(jiff::tz::TimeZone::UTC),
    );
    diffs(&mut app);
    panes(&mut app);
    app
}

/// The first four agents' terminals, emulated for real and handed to the
/// app as the supervisor sends them: a full frame of every row.
fn panes(app: &mut App) {
    let names: Vec<SliceName> = app
        .board
        .slices
        .iter()
        .take(4)
        .map(|r| r.name.clone())
        .collect();
    for slice in names {
        let mut screen = Screen::new(Size { cols: 60, rows: 20 }, 100);
        screen.feed(
            format!(
                "\x1b[1m{slice} agent\x1b[0m\r\n\x1b[32m✓\x1b[0m migrated stg_orders.sql\r\nDo you want to proceed?\r\n\x1b[7m❯ 1. Yes\x1b[0m\r\n  2. No\r\n"
            )
            .as_bytes(),
        );
        app.apply_pane(whole_frame(&screen, &slice));
    }
}

fn render(app: &App, width: u16, height: u16) -> String {
    let buffer = draw(app, width, height);
    let mut out = String::new();
    for y in 0..height {
        let mut line = String::new();
        for x in 0..width {
            line.push_str(buffer[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[test]
fn board_with_terminal_tab() {
    let app = app();
    insta::assert_snapshot!("board_terminal_80x24", render(&app, 80, 24));
    insta::assert_snapshot!("board_terminal_200x50", render(&app, 200, 50));

    // The pane keeps the agent's styles: bold, green, reversed.
    let buffer = draw(&app, 80, 24);
    let at = |text| find(&buffer, text).unwrap_or_else(|| panic!("{text:?} is not drawn"));
    let title = buffer[at("staging agent")].modifier;
    assert!(title.contains(Modifier::BOLD), "{title:?}");
    let tick = &buffer[at("✓ migrated")];
    assert_eq!(tick.fg, Color::Green);
    let (x, y) = at("✓ migrated");
    assert_eq!(
        buffer[(x + 2, y)].fg,
        Color::Reset,
        "only the tick is green"
    );
    let choice = at("❯ 1. Yes");
    assert!(buffer[choice].modifier.contains(Modifier::REVERSED));
    assert!(!buffer[at("2. No")].modifier.contains(Modifier::REVERSED));
}

/// A guess from the screen never looks like the agent's own signal, and
/// waiting and done read differently, on the board and in the header.
#[test]
fn activity_shows_its_source_and_tells_waiting_from_done() {
    let app = app();
    let buffer = draw(&app, 120, 30);
    let at = |text| find(&buffer, text).unwrap_or_else(|| panic!("{text:?} is not drawn"));
    let guess = buffer[at("~busy")].modifier;
    assert!(
        guess.contains(Modifier::ITALIC) && guess.contains(Modifier::DIM),
        "{guess:?}"
    );
    let (x, y) = at("? staging waiting");
    let signal = buffer[(x + 10, y)].modifier;
    assert!(!signal.contains(Modifier::ITALIC), "{signal:?}");
    assert_eq!(buffer[(x + 10, y)].fg, Color::Yellow);
    let (x, y) = at("✓ exports done");
    assert_eq!(buffer[(x + 10, y)].fg, Color::Cyan);
    let header = render(&app, 120, 30);
    let header = header
        .lines()
        .find(|l| l.contains("sliceboard"))
        .unwrap_or_default();
    for count in [
        "3 running (1 paused)",
        "? 1 waiting for you",
        "* 1 busy",
        "✓ 1 done",
    ] {
        assert!(header.contains(count), "{count:?} in {header:?}");
    }

    // Nothing read yet from a running agent is unknown, not idle.
    let mut app = app;
    app.board.slices[1].activity = None;
    app.board.slices[1].activity_source = None;
    let text = render(&app, 120, 30);
    assert!(text.contains("· intermediate unknown"), "{text}");
    assert!(text.contains("· 1 unknown"), "{text}");

    // dbt running in its worktree: busy, whatever the screen says.
    let mut run = app.board.slices[0].dbt.clone().unwrap();
    run.status = sliceboard::domain::dbt_run::RunStatus::Running;
    app.board.slices[1].dbt = Some(run);
    let text = render(&app, 120, 30);
    assert!(text.contains("* intermediate busy (dbt)"), "{text}");
    assert!(text.contains("* 1 busy"), "{text}");
}

#[test]
fn every_tab() {
    for (tabs, name) in [(1, "diff"), (2, "dbt"), (3, "logs"), (4, "events")] {
        let mut app = app();
        for _ in 0..tabs {
            press(&mut app, KeyCode::Tab);
        }
        insta::assert_snapshot!(format!("tab_{name}_80x24"), render(&app, 80, 24));
        insta::assert_snapshot!(format!("tab_{name}_200x50"), render(&app, 200, 50));
    }
}

#[test]
fn diff_tab_moves_between_files_and_hunks() {
    let mut app = app();
    press(&mut app, KeyCode::Tab);
    // Files are sorted: dim_users (flagged), schema.yml, stg_orders.sql.
    press(&mut app, KeyCode::Char(']'));
    press(&mut app, KeyCode::Char(']'));
    assert_eq!(
        app.selected_file().unwrap().path,
        "models/staging/stg_orders.sql"
    );
    press(&mut app, KeyCode::Char('}'));
    assert_eq!(app.diff_scroll, 7, "the second hunk's header");
    insta::assert_snapshot!("diff_second_hunk_80x24", render(&app, 80, 24));
    // The file list is where a click lands: row 2 of it is the third file.
    let list = app.diff_list.get().expect("the Diff tab drew its list");
    assert_eq!(list.item_at(list.x + 3, list.y + 1), Some(1));
    assert_eq!(list.item_at(list.x + 3, list.y + list.height), None);
    app.select_file(0);
    assert_eq!(
        app.selected_file().unwrap().path,
        "models/marts/dim_users.sql"
    );
    app.select_file(2);
    press(&mut app, KeyCode::Char('}'));
    press(&mut app, KeyCode::Char('{'));
    assert_eq!(app.diff_scroll, 0);
    // Back past the first hunk: the previous file's last hunk.
    press(&mut app, KeyCode::Char('{'));
    assert_eq!(
        app.selected_file().unwrap().path,
        "models/staging/schema.yml"
    );
    press(&mut app, KeyCode::Char('['));
    press(&mut app, KeyCode::Char('['));
    assert_eq!(app.diff_file, 0);
    // Another slice starts at its first file.
    press(&mut app, KeyCode::Char('j'));
    assert_eq!((app.diff_file, app.diff_scroll), (0, 0));

    // A flag clears once the other slice reverts its change.
    assert_eq!(app.board.slices[0].flags.len(), 2);
    apply_diff(&mut app, "marts", SliceDiff::default(), None);
    let left: Vec<String> = app.board.slices[0]
        .flags
        .iter()
        .map(|f| f.describe())
        .collect();
    assert_eq!(left, ["outside the slice; owned by marts"]);
}

#[test]
fn grid_of_all_terminals() {
    let mut app = app();
    press(&mut app, KeyCode::Char('g'));
    insta::assert_snapshot!("grid_80x24", render(&app, 80, 24));
    insta::assert_snapshot!("grid_200x50", render(&app, 200, 50));
}

#[test]
fn help_overlay_and_stop_all_confirmation() {
    let mut app = app();
    press(&mut app, KeyCode::Char('?'));
    insta::assert_snapshot!("help_80x24", render(&app, 80, 24));
    insta::assert_snapshot!("help_200x50", render(&app, 200, 50));
    press(&mut app, KeyCode::Esc);
    // q only detaches: the agents go on in the supervisor, nothing to confirm.
    let effects = app.on_key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE));
    assert_eq!(effects, [Effect::Quit]);
    assert_eq!(app.mode, Mode::Board);
    // Q stops every agent and the supervisor, once confirmed.
    press(&mut app, KeyCode::Char('Q'));
    assert_eq!(app.mode, Mode::Confirm(Confirm::StopAll { running: 4 }));
    let confirm = render(&app, 80, 24);
    assert!(
        confirm.contains("y: stop all"),
        "the answer key is shown: {confirm}"
    );
    insta::assert_snapshot!("stop_all_confirm_80x24", confirm);
    let effects = app.on_key(KeyEvent::new(KeyCode::Char('y'), KeyModifiers::NONE));
    assert_eq!(effects, [Effect::Send(Command::Shutdown)]);
    // Any other key cancels.
    press(&mut app, KeyCode::Char('Q'));
    let effects = app.on_key(KeyEvent::new(KeyCode::Char('n'), KeyModifiers::NONE));
    assert_eq!(effects, []);
    assert_eq!(app.mode, Mode::Board);
}

#[test]
fn a_group_left_running_is_shown_blocks_starts_and_one_key_ends_it() {
    let mut app = app();
    app.apply(BoardUpdate::Event {
        event: sliceboard::domain::Event::LeftRunningFound {
            slice: name("seeds"),
            pid: 4242,
        },
        at: None,
    });
    for _ in 0..3 {
        press(&mut app, KeyCode::Char('j'));
    }
    let screen = render(&app, 200, 50);
    assert!(
        screen.contains("seeds left running (pid 4242)")
            && screen.contains("X ends it (previous supervisor's)"),
        "{screen}"
    );
    // Starting beside it is refused here, with the key that ends it.
    for key in ['s', 'r', 'F'] {
        let effects = app.on_key(KeyEvent::new(KeyCode::Char(key), KeyModifiers::NONE));
        assert_eq!(effects, [], "{key}");
        let said = app.message.clone().unwrap_or_default();
        assert!(
            said.contains("agent group 4242") && said.contains("press X to end it"),
            "{key}: {said}"
        );
    }
    // X (and x, with no agent of its own) asks, then ends it.
    for key in ['X', 'x'] {
        press(&mut app, KeyCode::Char(key));
        assert_eq!(
            app.mode,
            Mode::Confirm(Confirm::EndLeftRunning {
                slice: name("seeds"),
                pid: 4242
            })
        );
        assert!(render(&app, 80, 24).contains("y: end it"));
        let effects = app.on_key(KeyEvent::new(KeyCode::Char('y'), KeyModifiers::NONE));
        assert_eq!(
            effects,
            [Effect::Send(Command::KillAgent {
                slice: name("seeds")
            })]
        );
    }
    // On a slice with nothing left running, X says so and asks nothing.
    press(&mut app, KeyCode::Char('k'));
    press(&mut app, KeyCode::Char('X'));
    assert_eq!(app.mode, Mode::Board);
    assert!(
        app.message
            .as_deref()
            .is_some_and(|m| m.contains("no agent group was left running")),
        "{:?}",
        app.message
    );
}

#[test]
fn tiny_terminals_do_not_panic() {
    let mut app = app();
    for (w, h) in [(1, 1), (10, 3), (20, 5), (30, 8)] {
        render(&app, w, h);
    }
    press(&mut app, KeyCode::Char('g'));
    for (w, h) in [(1, 1), (10, 3), (20, 5)] {
        render(&app, w, h);
    }
}

#[test]
fn logs_follow_scroll_and_search() {
    let mut app = app();
    for _ in 0..3 {
        press(&mut app, KeyCode::Tab);
    }
    assert!(render(&app, 200, 50).contains("task step 40"));
    press(&mut app, KeyCode::PageUp);
    let scrolled = render(&app, 200, 50);
    assert!(
        !scrolled.contains("task step 40") && scrolled.contains("task step 30"),
        "{scrolled}"
    );
    assert!(scrolled.contains("scrolled back"), "{scrolled}");
    press(&mut app, KeyCode::Char('/'));
    for c in "task step 5".chars() {
        press(&mut app, KeyCode::Char(c));
    }
    press(&mut app, KeyCode::Enter);
    assert_eq!(
        app.message.as_deref(),
        Some("\"task step 5\": match 1 of 1 (n: next, pgdn: back)")
    );
    assert_eq!(app.log_scroll, 35);
    press(&mut app, KeyCode::PageDown);
    press(&mut app, KeyCode::PageDown);
    press(&mut app, KeyCode::PageDown);
    press(&mut app, KeyCode::PageDown);
    assert_eq!(app.log_scroll, 0);
}

#[test]
fn escapes_in_changed_files_never_reach_the_terminal() {
    let mut app = app();
    let hostile = "\x1b]0;pwned\x07\x1b[2J\x1b]52;c;aGk=\x07";
    let hunk = Hunk {
        header: format!("@@ -0,0 +1 @@ {hostile}"),
        lines: vec![line(LineKind::Added, None, Some(1), hostile)],
    };
    let diff = SliceDiff {
        base: None,
        files: vec![file(
            &format!("x{hostile}.sql"),
            ChangeKind::Added,
            1,
            0,
            vec![hunk],
        )],
    };
    apply_diff(&mut app, "staging", diff, Some(hostile.into()));
    press(&mut app, KeyCode::Tab);
    let screen = render(&app, 120, 30);
    assert!(
        screen.contains("pwned"),
        "the text itself is shown: {screen}"
    );
    assert!(
        !screen.chars().any(|c| c.is_control() && c != '\n'),
        "a control character reached the screen: {screen:?}"
    );
}

#[test]
fn the_diff_tab_stays_on_its_file_and_a_clicked_slice_starts_at_the_top() {
    let mut app = app();
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Char(']'));
    assert_eq!(
        app.selected_file().unwrap().path,
        "models/staging/schema.yml"
    );
    // A new file sorts before the one shown: the tab stays on it.
    let mut diff = (**app.board.slices[0].diff.as_ref().unwrap()).clone();
    diff.files
        .insert(0, file("README.md", ChangeKind::Added, 1, 0, Vec::new()));
    apply_diff(&mut app, "staging", diff, None);
    assert_eq!(
        app.selected_file().unwrap().path,
        "models/staging/schema.yml"
    );

    // Far down a long diff, a click on a slice with one file draws fine.
    press(&mut app, KeyCode::Char(']'));
    press(&mut app, KeyCode::Char(']'));
    assert_eq!(app.diff_file, 3);
    app.select_slice(2);
    assert_eq!((app.diff_file, app.diff_scroll), (0, 0));
    render(&app, 80, 24);
    // Even a model left out of range draws without panicking.
    app.diff_file = 40;
    render(&app, 80, 24);
}

#[test]
fn search_in_the_diff_tab_finds_paths_and_lines() {
    let mut app = app();
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Char('/'));
    for c in "current_timestamp".chars() {
        press(&mut app, KeyCode::Char(c));
    }
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.tab, sliceboard::ui::app::Tab::Diff);
    assert_eq!(
        (app.selected_file().unwrap().path.as_str(), app.diff_scroll),
        ("models/staging/stg_orders.sql", 10)
    );
    // A path matches too; `n` goes on to the next match and wraps.
    press(&mut app, KeyCode::Char('/'));
    for c in "schema".chars() {
        press(&mut app, KeyCode::Char(c));
    }
    press(&mut app, KeyCode::Enter);
    assert_eq!(
        app.selected_file().unwrap().path,
        "models/staging/schema.yml"
    );
    press(&mut app, KeyCode::Char('n'));
    assert_eq!(
        app.selected_file().unwrap().path,
        "models/staging/schema.yml"
    );
    assert!(app.message.as_deref().unwrap().contains("match 1 of 1"));
}

#[test]
fn queue_view_and_approval_with_concerns() {
    use sliceboard::domain::queue::{
        ApprovalView, AttemptView, EntryState, MergeView, PairConflict, QueueBoard,
        concerns_refusal,
    };
    let mut app = app();
    let at = jiff::Timestamp::UNIX_EPOCH;
    let approved = |commit: &str, position: usize, state: EntryState| MergeView {
        tip: Some(commit.into()),
        approval: Some(ApprovalView {
            commit: commit.into(),
            at,
            stale: false,
        }),
        position: Some(position),
        state: Some(state),
        ..MergeView::default()
    };
    let mut queue = QueueBoard {
        integration: "refactor/integration".into(),
        integration_tip: Some("1234567890abcdef".into()),
        check: Some("dbt build".into()),
        order: vec![name("staging"), name("marts")],
        attempt: Some(AttemptView {
            slice: name("staging"),
            number: 7,
            started: at,
        }),
        pairs: vec![PairConflict {
            a: name("seeds"),
            b: name("docs"),
            paths: vec!["seeds/orders.csv".into()],
        }],
        ..QueueBoard::default()
    };
    queue.slices.insert(
        name("staging"),
        approved("aaaaaaaaaaaa", 1, EntryState::Checking),
    );
    queue.slices.insert(
        name("marts"),
        approved(
            "bbbbbbbbbbbb",
            2,
            EntryState::Waiting {
                on: vec![name("staging")],
            },
        ),
    );
    app.apply(BoardUpdate::Queue { queue });
    app.apply(BoardUpdate::CheckOutput {
        attempt: 7,
        lines: vec!["1 of 8 START sql view model dbt_integration.stg_orders".into()],
        fresh: true,
    });
    press(&mut app, KeyCode::Char('o'));
    let shown = render(&app, 120, 30);
    for text in [
        "refactor/integration at 1234567890; check `dbt build`",
        "1. staging aaaaaaaaaa  checking",
        "2. marts bbbbbbbbbb  waiting for staging",
        "seeds and docs conflict with each other in seeds/orders.csv",
        "checking staging (attempt 7)",
        "START sql view model dbt_integration.stg_orders",
    ] {
        assert!(shown.contains(text), "{text:?} missing from:\n{shown}");
    }
    insta::assert_snapshot!("queue_120x30", shown);
    // m merges the head; the board row shows the queue state.
    let effects = app.on_key(KeyEvent::new(KeyCode::Char('m'), KeyModifiers::NONE));
    assert_eq!(
        effects,
        [Effect::Send(Command::Merge {
            which: sliceboard::domain::MergeWhich::Head,
            dry_run: false,
        })]
    );
    // An approval refused with concerns becomes a question; y forces it.
    app.reply(
        Err(concerns_refusal(
            &name("marts"),
            &["its last dbt run failed (build: 3 ok, 1 failed)".into()],
        )),
        Asked::of(&Command::Approve {
            slice: name("marts"),
            force: false,
        }),
    );
    assert!(matches!(app.mode, Mode::Confirm(Confirm::Approve { .. })));
    let asked = render(&app, 100, 30);
    assert!(asked.contains("its last dbt run failed"), "{asked}");
    let effects = app.on_key(KeyEvent::new(KeyCode::Char('y'), KeyModifiers::NONE));
    assert_eq!(
        effects,
        [Effect::Send(Command::Approve {
            slice: name("marts"),
            force: true,
        })]
    );
}

/// Twenty slices on an 80x24 terminal: one line each, every one reachable
/// with j/k, the board scrolled so the selected slice is always shown, and
/// a click selects the slice under it.
#[test]
fn twenty_slices_scroll_and_keep_the_selection_in_view() {
    let slices: Vec<SliceRow> = (1..=20)
        .map(|i| {
            let (status, activity) = match i % 4 {
                0 => (AgentStatus::Running, Some(Activity::Busy)),
                1 => (AgentStatus::Running, Some(Activity::Waiting)),
                2 => (AgentStatus::NotStarted, None),
                _ => (AgentStatus::Exited { code: Some(0) }, None),
            };
            let mut row = row(
                &format!("slice-{i:02}"),
                Lifecycle::Active,
                status,
                activity,
            );
            row.activity_source = activity.map(|_| ActivitySource::Signal);
            row
        })
        .collect();
    let board = Board {
        repo: "/work/shop".into(),
        slices,
        queue: Default::default(),
        plan_problem: None,
        guide: None,
    };
    let mut app = App::new(board, Keymap::default());
    let selected_line = |app: &App, width, height| {
        render(app, width, height)
            .lines()
            .find(|l| l.starts_with("│>"))
            .map(str::to_owned)
            .unwrap_or_default()
    };
    // 80x14 shows 10 of them: the board scrolls.
    for (width, height) in [(80, 24), (80, 14)] {
        for i in 1..=20 {
            let line = selected_line(&app, width, height);
            assert!(
                line.contains(&format!("slice-{i:02}")),
                "slice-{i:02} is selected and shown at {width}x{height}: {line:?}"
            );
            press(&mut app, KeyCode::Char('j'));
        }
        // j from the last wraps to the first, and the board follows.
        assert!(selected_line(&app, width, height).contains("slice-01"));
    }
    let text = render(&app, 80, 14);
    assert!(text.contains("slices 1-10 of 20"), "{text}");
    // k from the first wraps to the last; each key is drawn, as it is live.
    for i in (2..=20).rev() {
        press(&mut app, KeyCode::Char('k'));
        let line = selected_line(&app, 80, 14);
        assert!(line.contains(&format!("slice-{i:02}")), "{line:?}");
    }
    let text = render(&app, 80, 14);
    assert!(text.contains("slices 2-11 of 20"), "{text}");
    insta::assert_snapshot!("twenty_slices_80x24", render(&app, 80, 24));
    insta::assert_snapshot!("twenty_slices_200x50", render(&app, 200, 50));

    // A click on a slice's line selects it, wherever the board is scrolled.
    let mut app = app;
    for _ in 0..15 {
        press(&mut app, KeyCode::Char('j'));
    }
    let buffer = draw(&app, 80, 24);
    let (x, y) = find(&buffer, "slice-14").expect("slice-14 is shown");
    let effects = sliceboard::ui::mouse::on_mouse(
        &mut app,
        crossterm::event::MouseEvent {
            kind: crossterm::event::MouseEventKind::Down(crossterm::event::MouseButton::Left),
            column: x,
            row: y,
            modifiers: KeyModifiers::NONE,
        },
        80,
    );
    assert_eq!(effects, vec![]);
    assert_eq!(app.selected().unwrap().name.as_str(), "slice-14");
}

/// Every action on a slice is reported in the footer, done or refused and
/// why, and the report goes when another slice is selected.
#[test]
fn the_footer_reports_the_last_action_on_the_selected_slice() {
    let mut app = app();
    let footer = |app: &App| {
        render(app, 120, 30)
            .lines()
            .last()
            .unwrap_or_default()
            .to_owned()
    };
    let effects = app.on_key(KeyEvent::new(KeyCode::Char('p'), KeyModifiers::NONE));
    let [Effect::Send(command)] = effects.as_slice() else {
        panic!("p sends one command: {effects:?}");
    };
    assert_eq!(
        command,
        &Command::PauseAgent {
            slice: name("staging")
        }
    );
    app.reply(Ok(String::new()), Asked::of(command));
    assert!(
        footer(&app).starts_with("staging: agent paused"),
        "{}",
        footer(&app)
    );
    app.reply(
        Err("slice staging: its agent is not running".into()),
        Asked::of(&Command::KillAgent {
            slice: name("staging"),
        }),
    );
    assert!(
        footer(&app).starts_with(
            "staging: could not kill the agent: slice staging: its agent is not running"
        ),
        "{}",
        footer(&app)
    );
    press(&mut app, KeyCode::Char('j'));
    assert!(!footer(&app).contains("staging:"), "{}", footer(&app));
}

/// Help at 80x24 wraps every description (nothing is cut at the edge) and
/// scrolls through every key; a remapped key shows as remapped in help,
/// the status line and the hints drawn in tabs.
#[test]
fn help_wraps_and_scrolls_and_hints_follow_the_keymap() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[keys]\n\"ctrl-s\" = \"start\"\ns = \"none\"\n\"ctrl-n\" = \"next_file\"\n\"]\" = \"none\"\n",
    )
    .unwrap();
    let keymap = Keymap::load(Some(&config)).unwrap();
    let mut app = app();
    app.keymap = keymap.clone();

    let status = render(&app, 200, 50);
    let status = status.lines().last().unwrap_or_default();
    assert!(status.contains("ctrl-s start"), "{status}");
    assert!(!status.contains(" s start"), "{status}");
    // The Diff tab's title names the remapped key.
    press(&mut app, KeyCode::Char('l'));
    let diff = render(&app, 120, 30);
    assert!(diff.contains("ctrl-n file"), "{diff}");
    // An agent that never ran says how to start it, with the user's key.
    app.selected = 4;
    press(&mut app, KeyCode::Char('h'));
    let docs = render(&app, 120, 30);
    assert!(docs.contains("Press ctrl-s to start it"), "{docs}");

    press(&mut app, KeyCode::Char('?'));
    let mut seen = String::new();
    for _ in 0..60 {
        let text = render(&app, 80, 24);
        for line in text.lines() {
            // No line runs into the help's right border.
            assert!(
                !line.contains("│          ") || line.ends_with('│'),
                "{line}"
            );
        }
        seen.push_str(&text);
        press(&mut app, KeyCode::Char('j'));
    }
    assert_eq!(
        app.mode,
        Mode::Help,
        "j scrolls help rather than closing it"
    );
    let words = |text: &str| -> Vec<String> {
        text.split(|c: char| c.is_whitespace() || c == '│')
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let seen = words(&seen);
    for (keys, what) in keymap.help() {
        for word in words(&keys).into_iter().chain(words(what)) {
            assert!(
                seen.contains(&word),
                "{word:?} of {keys} ({what}) is never shown"
            );
        }
    }
    press(&mut app, KeyCode::Char('x'));
    assert_eq!(app.mode, Mode::Board);
}

#[test]
fn the_pick_key_asks_then_picks_a_variant_and_names_what_it_retires() {
    let mut app = app();
    // Three variants of one slice on the board; one retired already.
    let mut variants: Vec<SliceRow> = (1..=3)
        .map(|n| {
            let mut r = row(
                &format!("stg.{n}"),
                Lifecycle::Active,
                AgentStatus::Exited { code: Some(0) },
                None,
            );
            r.variant_of = Some(name("stg"));
            r
        })
        .collect();
    variants[2].lifecycle = Lifecycle::Retired;
    let at = |t: &str| Some(t.parse::<jiff::Timestamp>().unwrap());
    variants[1].agent_started = at("2026-11-24T12:00:00Z");
    variants[1].agent_ended = at("2026-11-24T12:02:05Z");
    variants[0].agent_started = at("2026-11-24T12:29:00Z");
    app.board.slices.extend(variants);
    // On a plain slice, P says so and asks nothing.
    press(&mut app, KeyCode::Char('P'));
    assert_eq!(app.mode, Mode::Board);
    assert!(
        app.message
            .as_deref()
            .is_some_and(|m| m.contains("is not a variant; a approves it")),
        "{:?}",
        app.message
    );
    // On stg.2: asks, naming the sibling still in play (not the retired one).
    for _ in 0..7 {
        press(&mut app, KeyCode::Char('j'));
    }
    assert_eq!(app.selected().unwrap().name, name("stg.2"));
    // V: the variants side by side, with the time each took (stg.1 still
    // runs: up to now).
    press(&mut app, KeyCode::Char('V'));
    let screen = render(&app, 120, 30);
    assert!(screen.contains("variants of stg"), "{screen}");
    let line = |name: &str| {
        screen
            .lines()
            .find(|l| l.contains(&format!("│{name} ")) && l.contains("exited(0)"))
            .unwrap_or_else(|| panic!("no {name} in:\n{screen}"))
            .to_owned()
    };
    assert!(line("stg.2").contains("2m05s"), "{}", line("stg.2"));
    assert!(line("stg.1").contains("1m00s"), "{}", line("stg.1"));
    assert!(line("stg.3").contains("retired"), "{}", line("stg.3"));
    // stg.1's time counts seconds: the dashboard draws every second while
    // the overlay is open, and once a minute again when it closes.
    assert!(app.shows_seconds());
    press(&mut app, KeyCode::Char('q'));
    assert!(!app.shows_seconds());
    // With every variant ended, nothing shown counts seconds.
    let ended = app.board.slices[1].agent_started;
    for r in app
        .board
        .slices
        .iter_mut()
        .filter(|r| r.variant_of.is_some())
    {
        r.agent_ended = r.agent_started.or(ended);
    }
    press(&mut app, KeyCode::Char('V'));
    assert!(!app.shows_seconds());
    press(&mut app, KeyCode::Char('q'));
    assert_eq!(app.mode, Mode::Board);
    press(&mut app, KeyCode::Char('P'));
    assert_eq!(
        app.mode,
        Mode::Confirm(Confirm::Pick {
            slice: name("stg.2"),
            retired: vec![name("stg.1")],
        })
    );
    let screen = render(&app, 100, 30);
    assert!(
        screen.contains("Pick stg.2?") && screen.contains("y: pick"),
        "{screen}"
    );
    let effects = app.on_key(KeyEvent::new(KeyCode::Char('y'), KeyModifiers::NONE));
    assert_eq!(
        effects,
        [Effect::Send(Command::Pick {
            slice: name("stg.2"),
            force: false,
        })]
    );
    // While the sibling comes down, its row says so.
    app.board.queue.slices.insert(
        name("stg.1"),
        sliceboard::domain::queue::MergeView {
            going: Some(
                "stg.1 is being retired: stg.2 was picked, and its worktree is coming down"
                    .to_owned(),
            ),
            ..Default::default()
        },
    );
    let screen = render(&app, 160, 30);
    assert!(
        screen.contains("is being retired: stg.2 was picked"),
        "{screen}"
    );
    // A retired variant cannot be picked.
    press(&mut app, KeyCode::Char('j'));
    press(&mut app, KeyCode::Char('P'));
    assert_eq!(app.mode, Mode::Board);
    assert!(
        app.message
            .as_deref()
            .is_some_and(|m| m.contains("was retired")),
        "{:?}",
        app.message
    );
}

/// A merged slice whose branch moved on says so on the board, in the
/// Queue view too; a cleaned slice says cleaned, not that its worktree is
/// missing.
#[test]
fn a_merged_slice_with_new_commits_and_a_cleaned_slice_say_so_on_the_board() {
    use sliceboard::domain::queue::{EntryState, MergeView, QueueBoard};
    let mut app = app();
    for row in &mut app.board.slices {
        match row.name.as_str() {
            "marts" => row.lifecycle = Lifecycle::Merged,
            "docs" => {
                row.lifecycle = Lifecycle::Cleaned;
                row.diff_mode = WatchMode::Missing;
            }
            _ => {}
        }
    }
    let merged = |new_commits| {
        let mut queue = QueueBoard {
            integration: "refactor/integration".into(),
            integration_tip: Some("1234567890abcdef".into()),
            ..QueueBoard::default()
        };
        queue.slices.insert(
            name("marts"),
            MergeView {
                state: Some(EntryState::Merged {
                    commit: "cccccccccccc".into(),
                    new_commits,
                }),
                ..MergeView::default()
            },
        );
        BoardUpdate::Queue { queue }
    };
    app.apply(merged(0));
    let shown = render(&app, 200, 50);
    // The lifecycle is on the line under the slice's name.
    let detail = |shown: &str| {
        let lines: Vec<&str> = shown.lines().collect();
        let at = lines.iter().position(|l| l.contains("marts paused"));
        at.and_then(|i| lines.get(i + 1)).map(|l| l.to_string())
    };
    assert!(
        detail(&shown).is_some_and(|l| l.contains("merged")),
        "{shown}"
    );
    assert!(!shown.contains("new commit"), "{shown}");

    app.apply(merged(1));
    let shown = render(&app, 200, 50);
    assert!(
        detail(&shown).is_some_and(|l| l.contains("merged, 1 new commit")),
        "{shown}"
    );
    assert!(shown.contains("cleaned"), "{shown}");
    assert!(!shown.contains("no worktree"), "{shown}");
    // Its pane says it was cleaned on purpose, not that no agent ran.
    app.selected = app
        .board
        .slices
        .iter()
        .position(|r| r.name.as_str() == "docs")
        .unwrap();
    let pane = render(&app, 200, 50);
    assert!(
        pane.contains("Cleaned: its worktree was removed on purpose"),
        "{pane}"
    );
    assert!(!pane.contains("No agent has run here yet"), "{pane}");
    app.selected = 0;
    press(&mut app, KeyCode::Char('o'));
    let queue = render(&app, 120, 30);
    assert!(
        queue.contains("merged  marts in cccccccccc, 1 new commit since"),
        "{queue}"
    );
}

/// An approval refused with two dozen concerns, at 80x24: the question
/// keeps its key line, and the concerns that do not fit are folded.
#[test]
fn the_approve_question_with_many_reasons_keeps_its_key_line() {
    use sliceboard::domain::queue::concerns_refusal;
    let mut app = app();
    let concerns: Vec<String> = (1..=24)
        .map(|i| format!("it changed paths other slices also change: models/marts/fct_{i:02}.sql (also staging)"))
        .collect();
    app.reply(
        Err(concerns_refusal(&name("marts"), &concerns)),
        Asked::of(&Command::Approve {
            slice: name("marts"),
            force: false,
        }),
    );
    assert!(matches!(app.mode, Mode::Confirm(Confirm::Approve { .. })));
    for (width, height) in [(80, 24), (200, 50), (60, 12)] {
        let shown = render(&app, width, height);
        assert!(
            shown.contains("y: approve   any other key: cancel"),
            "{width}x{height}: the key line is shown:\n{shown}"
        );
        assert!(
            shown.contains("Approve marts anyway?") && shown.contains("fct_01.sql"),
            "{width}x{height}:\n{shown}"
        );
        assert!(
            shown.contains("more") && !shown.contains("fct_24.sql"),
            "{width}x{height}: the rest is folded:\n{shown}"
        );
    }
    insta::assert_snapshot!("approve_many_reasons_80x24", render(&app, 80, 24));
}

/// C and x check what the board knows before they ask: a running agent
/// is not cleaned, an unmerged slice is not cleaned, and there is no
/// agent to kill where none runs.
#[test]
fn clean_and_kill_refuse_without_asking_when_the_board_says_no() {
    let mut app = app();
    // staging's agent runs.
    press(&mut app, KeyCode::Char('C'));
    assert_eq!(app.mode, Mode::Board, "no question for a running agent");
    let said = app.message.clone().unwrap_or_default();
    assert!(
        said.contains("staging: not cleaned: its agent is running")
            && said.contains("kill it first"),
        "{said}"
    );
    let footer = render(&app, 120, 30);
    assert!(
        footer.contains("not cleaned: its agent is running"),
        "{footer}"
    );
    // docs has no agent, and is not merged.
    app.selected = 4;
    press(&mut app, KeyCode::Char('C'));
    assert_eq!(app.mode, Mode::Board);
    assert!(
        app.message
            .as_deref()
            .unwrap_or_default()
            .contains("docs: not cleaned: it is not merged"),
        "{:?}",
        app.message
    );
    press(&mut app, KeyCode::Char('x'));
    assert_eq!(app.mode, Mode::Board, "nothing to kill in docs");
    assert!(
        app.message
            .as_deref()
            .unwrap_or_default()
            .contains("docs: no agent to kill"),
        "{:?}",
        app.message
    );
    // A merged slice with no agent is asked about.
    app.board.slices[4].lifecycle = Lifecycle::Merged;
    press(&mut app, KeyCode::Char('C'));
    assert_eq!(app.mode, Mode::Confirm(Confirm::Clean(name("docs"))));
}

/// The Queue view lists merged slices in the order they merged, not by
/// name.
#[test]
fn the_queue_lists_merged_slices_in_merge_order() {
    use sliceboard::domain::queue::{EntryState, MergeView, QueueBoard};
    let mut app = app();
    let mut queue = QueueBoard {
        integration: "integration".into(),
        integration_tip: Some("1234567890abcdef".into()),
        ..QueueBoard::default()
    };
    for (slice, commit, at) in [
        ("docs", "dddddddddddd", "2026-11-24T12:03:00Z"),
        ("marts", "mmmmmmmmmmmm", "2026-11-24T12:01:00Z"),
        ("seeds", "ssssssssssss", "2026-11-24T12:02:00Z"),
    ] {
        queue.slices.insert(
            name(slice),
            MergeView {
                state: Some(EntryState::Merged {
                    commit: commit.into(),
                    new_commits: 0,
                }),
                merged_at: Some(at.parse().unwrap()),
                ..MergeView::default()
            },
        );
    }
    app.apply(BoardUpdate::Queue { queue });
    press(&mut app, KeyCode::Char('o'));
    let shown = render(&app, 120, 30);
    let at = |text: &str| {
        shown
            .find(text)
            .unwrap_or_else(|| panic!("{text:?} missing from:\n{shown}"))
    };
    assert!(
        at("merged  marts") < at("merged  seeds") && at("merged  seeds") < at("merged  docs"),
        "merge order:\n{shown}"
    );
    insta::assert_snapshot!("queue_merged_in_order_120x30", shown);
}

/// The status line's report goes when it stops being true: after a
/// while, or once the slice it is about changes; a report of work in
/// progress stays until its answer comes.
#[test]
fn the_footer_report_expires_and_goes_when_its_slice_changes() {
    use sliceboard::domain::Event;
    use sliceboard::ui::report::REPORT_TTL;
    use std::time::{Duration, Instant};
    let mut app = app();
    let t0 = Instant::now();
    app.reply(
        Ok(String::new()),
        Asked::of(&Command::PauseAgent {
            slice: name("staging"),
        }),
    );
    assert!(!app.tick(t0));
    // The pause itself arrives: the report stays.
    app.apply(BoardUpdate::Event {
        event: Event::AgentStatusChanged {
            slice: name("staging"),
            status: AgentStatus::Paused,
        },
        at: None,
    });
    assert!(!app.tick(t0 + Duration::from_millis(100)));
    assert!(!app.tick(t0 + Duration::from_secs(2)));
    assert_eq!(
        app.message
            .as_deref()
            .map(|m| m.starts_with("staging: agent paused")),
        Some(true)
    );
    // Someone resumes it: "paused" is no longer true.
    app.apply(BoardUpdate::Event {
        event: Event::AgentStatusChanged {
            slice: name("staging"),
            status: AgentStatus::Running,
        },
        at: None,
    });
    assert!(app.tick(t0 + Duration::from_secs(3)), "the report went");
    assert_eq!(app.message, None);

    // Any report expires.
    app.message = Some("sliceboard.toml reloaded".into());
    let t1 = t0 + Duration::from_secs(10);
    assert!(!app.tick(t1));
    assert!(!app.tick(t1 + REPORT_TTL - Duration::from_millis(1)));
    assert!(app.tick(t1 + REPORT_TTL));
    assert_eq!(app.message, None);
    let footer = render(&app, 120, 30);
    assert!(!footer.contains("reloaded"), "{footer}");

    // Work in progress stays until its answer replaces it.
    app.message = Some("merging…".into());
    let t2 = t1 + Duration::from_secs(60);
    app.tick(t2);
    assert!(!app.tick(t2 + REPORT_TTL * 4));
    assert_eq!(app.message.as_deref(), Some("merging…"));
}

#[test]
fn w_goes_round_the_slices_that_need_you_most_urgent_first() {
    let mut app = app();
    let selected = |app: &App| app.board.slices[app.selected].name.to_string();
    assert_eq!(selected(&app), "staging");
    let mut visited = Vec::new();
    for _ in 0..3 {
        press(&mut app, KeyCode::Char('w'));
        visited.push(selected(&app));
    }
    // staging waits; then seeds' agent failed; then exports finished.
    assert_eq!(visited, ["seeds", "exports", "staging"]);

    // Nobody needing you says so, and the selection stays.
    for row in &mut app.board.slices {
        row.status = AgentStatus::Running;
        row.activity = Some(Activity::Busy);
        row.dbt = None;
    }
    press(&mut app, KeyCode::Char('w'));
    assert_eq!(selected(&app), "staging");
    assert!(
        app.message
            .as_deref()
            .is_some_and(|m| m.starts_with("nobody needs you")),
        "{:?}",
        app.message
    );
}

#[test]
fn t_tells_the_selected_agent_or_every_marked_one_without_attaching() {
    let mut app = app();
    let send = |app: &mut App, text: &str| {
        press(app, KeyCode::Char('t'));
        for c in text.chars() {
            press(app, KeyCode::Char(c));
        }
        app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE))
    };
    let prompt = |slice: &str, text: &str| {
        Effect::Send(Command::Prompt {
            slice: name(slice),
            text: text.into(),
            by_itself: false,
        })
    };
    // No mark: the selected slice's agent.
    assert_eq!(send(&mut app, "yes"), [prompt("staging", "yes")]);
    assert_eq!(app.mode, Mode::Board);

    // Marked slices, in board order, whichever is selected; the marks go
    // once the prompt is sent.
    press(&mut app, KeyCode::Char('j'));
    press(&mut app, KeyCode::Char('j'));
    press(&mut app, KeyCode::Char(' '));
    press(&mut app, KeyCode::Char('k'));
    press(&mut app, KeyCode::Char('k'));
    press(&mut app, KeyCode::Char(' '));
    press(&mut app, KeyCode::Char('t'));
    let screen = render(&app, 100, 30);
    assert!(screen.contains("tell staging, marts: _"), "{screen}");
    assert!(screen.contains("*= marts"), "the mark is drawn: {screen}");
    press(&mut app, KeyCode::Esc);
    assert_eq!(
        send(&mut app, "rebase on main"),
        [
            prompt("staging", "rebase on main"),
            prompt("marts", "rebase on main")
        ]
    );
    assert!(app.marked.is_empty());
    // Esc drops a prompt; nothing is sent.
    press(&mut app, KeyCode::Char('t'));
    press(&mut app, KeyCode::Char('x'));
    assert_eq!(
        app.on_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)),
        []
    );
}

#[test]
fn a_waiting_agents_question_is_answered_from_the_board_with_y_n_or_a_digit() {
    let mut app = app();
    let answer =
        |app: &mut App, c: char| app.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    let input = |bytes: &[u8]| {
        vec![Effect::Send(Command::SendInput {
            slice: name("staging"),
            bytes: bytes.to_vec(),
        })]
    };
    // staging waits on a yes/no question.
    app.board.slices[0].asks = Some("? Migrate GETDATE()? [y/n]".into());
    assert_eq!(answer(&mut app, 'y'), input(b"y\r"));
    assert_eq!(app.message.as_deref(), Some("staging: answered y"));
    // n answers it too, rather than finding the next search match.
    assert_eq!(answer(&mut app, 'n'), input(b"n\r"));
    // A menu takes the digit alone; a digit it does not offer is no answer.
    app.board.slices[0].asks = Some("Do you want to proceed? · ❯ 1. Yes · 2. No".into());
    assert_eq!(answer(&mut app, '2'), input(b"2"));
    assert_eq!(answer(&mut app, '7'), []);
    // A slice that is not waiting keeps the board's keys: y means nothing.
    press(&mut app, KeyCode::Char('j'));
    assert_eq!(answer(&mut app, 'y'), []);
}

#[test]
fn z_mutes_and_unmutes_a_slices_calls_and_the_board_says_so() {
    let mut app = app();
    let mute = |muted| {
        vec![Effect::Send(Command::MuteCalls {
            slice: name("staging"),
            muted,
        })]
    };
    let z = |app: &mut App| app.on_key(KeyEvent::new(KeyCode::Char('z'), KeyModifiers::NONE));
    assert_eq!(z(&mut app), mute(true));
    app.apply(sliceboard::domain::board::BoardUpdate::Muted {
        slice: name("staging"),
        muted: true,
    });
    let screen = render(&app, 100, 30);
    assert!(screen.contains("staging waiting (muted)"), "{screen}");
    assert_eq!(z(&mut app), mute(false));
}

#[test]
fn o_puts_the_slices_that_need_you_first_and_j_follows_the_board_as_shown() {
    let mut app = app();
    let names: Vec<String> = app
        .board
        .slices
        .iter()
        .map(|r| r.name.to_string())
        .collect();
    let selected = |app: &App| app.board.slices[app.selected].name.to_string();
    // Where each slice's name is drawn on the board, top to bottom.
    let shown = |app: &App| {
        let screen = render(app, 120, 30);
        let mut rows: Vec<(usize, String)> = names
            .iter()
            .filter_map(|n| {
                screen
                    .lines()
                    .position(|l| {
                        let board: String = l.chars().take(40).collect();
                        board.contains(&format!(" {n} "))
                    })
                    .map(|y| (y, n.clone()))
            })
            .collect();
        rows.sort();
        rows.into_iter().map(|(_, n)| n).collect::<Vec<_>>()
    };
    assert_eq!(shown(&app), names, "the plan's order");

    press(&mut app, KeyCode::Char('O'));
    let first = shown(&app);
    // staging waits, seeds' agent failed, exports finished: then the rest.
    assert_eq!(first[..3], ["staging", "seeds", "exports"]);
    assert!(render(&app, 120, 30).contains("slices needs you first"));
    press(&mut app, KeyCode::Char('j'));
    assert_eq!(selected(&app), "seeds", "down the board as shown");
    press(&mut app, KeyCode::Char('k'));
    press(&mut app, KeyCode::Char('k'));
    assert_eq!(
        selected(&app),
        first[first.len() - 1],
        "round to the bottom"
    );

    press(&mut app, KeyCode::Char('O'));
    assert_eq!(shown(&app), names, "the plan's order again");
}

#[test]
fn the_queue_view_says_what_runs_by_itself_what_waits_and_scrolls_a_failed_checks_output() {
    use sliceboard::domain::queue::{ApprovalView, AttemptView, EntryState, MergeView, QueueBoard};
    let mut app = app();
    let at = jiff::Timestamp::UNIX_EPOCH;
    let mut queue = QueueBoard {
        integration: "integration".into(),
        integration_tip: Some("1234567890abcdef".into()),
        check: Some("dbt build".into()),
        auto: true,
        order: vec![name("staging")],
        runs_itself: vec![
            "approves green slices".into(),
            "tells the agent on a failure".into(),
            "merges ready slices".into(),
            "3 attempts each".into(),
        ],
        output_of: Some(AttemptView {
            slice: name("staging"),
            number: 4,
            started: at,
        }),
        ..QueueBoard::default()
    };
    queue.slices.insert(
        name("staging"),
        MergeView {
            approval: Some(ApprovalView {
                commit: "aaaaaaaaaaaa".into(),
                at,
                stale: false,
            }),
            position: Some(1),
            state: Some(EntryState::Failed {
                reason: "the check exited with 1: orders: 3 rows, want 4".into(),
            }),
            ..MergeView::default()
        },
    );
    queue.slices.insert(
        name("marts"),
        MergeView {
            autopilot: Some("approves itself once its agent is done".into()),
            ..MergeView::default()
        },
    );
    queue.slices.insert(
        name("seeds"),
        MergeView {
            autopilot: Some("needs you: its attempts are used up; approve it yourself".into()),
            ..MergeView::default()
        },
    );
    app.apply(BoardUpdate::Queue { queue });
    app.apply(BoardUpdate::CheckOutput {
        attempt: 4,
        lines: (1..=60).map(|n| format!("check line {n}")).collect(),
        fresh: true,
    });
    press(&mut app, KeyCode::Char('o'));
    let shown = render(&app, 200, 50);
    for text in [
        "runs itself: approves green slices · tells the agent on a failure · merges ready slices · 3 attempts each (H holds it)",
        "to retry: fix it (F tells the agent), then approve it again (a)",
        "marts  approves itself once its agent is done",
        "seeds  needs you: its attempts are used up; approve it yourself",
        "last check: staging (attempt 4) · .git/sliceboard/merge/attempt-4.log",
        "check line 60",
    ] {
        assert!(shown.contains(text), "{text:?} not in:\n{shown}");
    }
    // PgUp scrolls the output back; the end is no longer shown.
    press(&mut app, KeyCode::PageUp);
    let back = render(&app, 200, 50);
    assert!(back.contains("check line 50"), "{back}");
    assert!(!back.contains("check line 60"), "{back}");
    assert!(back.contains("(scrolled back 10)"), "{back}");

    // H holds the queue; the view says so once the supervisor does.
    let effects = app.on_key(crossterm::event::KeyEvent::new(
        KeyCode::Char('H'),
        crossterm::event::KeyModifiers::NONE,
    ));
    assert_eq!(format!("{effects:?}"), "[Send(HoldQueue { held: true })]");
}

#[test]
fn at_80_by_24_a_long_changed_line_wraps_whole_and_f_shows_the_diff_full_screen() {
    let mut app = app();
    let long: String = (0..40).map(|i| format!("col_{i:02},")).collect();
    assert!(long.len() >= 200);
    let diff = SliceDiff {
        base: Some("0123456789abcdef".into()),
        files: vec![file(
            "models/staging/wide.sql",
            ChangeKind::Modified,
            1,
            0,
            vec![Hunk {
                header: "@@ -1 +1,2 @@".into(),
                lines: vec![
                    line(LineKind::Context, Some(1), Some(1), "select"),
                    line(LineKind::Added, None, Some(2), &long),
                ],
            }],
        )],
    };
    apply_diff(&mut app, "staging", diff, None);
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Char('f'));
    let shown = render(&app, 80, 24);
    assert!(!shown.contains("┌ slices"), "the board gives way:\n{shown}");
    // The text of the line, read back from its rows: the first after its
    // gutter, the others after the wrap mark.
    let mut text = String::new();
    for row in shown.lines() {
        let inside = row.trim_start_matches('│').trim_end_matches('│');
        if let Some(at) = inside.find("+col_00") {
            text.push_str(inside[at + 1..].trim_end());
        } else if !text.is_empty()
            && let Some(at) = inside.find('↪')
        {
            text.push_str(inside[at + '↪'.len_utf8()..].trim_end());
        }
    }
    assert_eq!(text, long, "{shown}");
    // f again: back to the board.
    press(&mut app, KeyCode::Char('f'));
    assert!(render(&app, 80, 24).contains("┌ slices"));
}

#[test]
fn c_reviews_the_diff_a_range_gets_a_comment_shown_in_the_gutter_under_its_lines_and_in_the_tray() {
    use sliceboard::domain::comments::{self, CommentAt, LineRef, Review};
    let mut app = app();
    let type_text = |app: &mut App, text: &str| {
        for c in text.chars() {
            press(app, KeyCode::Char(c));
        }
    };
    press(&mut app, KeyCode::Char('c'));
    assert_eq!(app.mode, Mode::Review);
    // To stg_orders.sql, its removed line and the two added in its place.
    press(&mut app, KeyCode::Char(']'));
    press(&mut app, KeyCode::Char(']'));
    press(&mut app, KeyCode::Char('j'));
    press(&mut app, KeyCode::Char('v'));
    press(&mut app, KeyCode::Char('j'));
    press(&mut app, KeyCode::Char('j'));
    press(&mut app, KeyCode::Char('c'));
    type_text(&mut app, "keep the filter; say why");
    let shown = render(&app, 120, 36);
    assert!(shown.contains("┗ new keep the filter; say why_"), "{shown}");
    let at = CommentAt {
        path: "models/staging/stg_orders.sql".into(),
        first: LineRef::old(2),
        last: LineRef::new(3),
        // What the operator saw there: the supervisor checks it.
        saw: vec![
            "    select * from {{ source('shop', 'orders') }} where nvl(status, 'x') != 'x'".into(),
            "    select * from {{ source('shop', 'orders') }}".into(),
            "    where coalesce(status, 'x') != 'x' -- duckdb".into(),
        ],
    };
    let sent = app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert_eq!(
        sent,
        vec![Effect::Send(Command::Comment {
            slice: name("staging"),
            at: at.clone(),
            text: "keep the filter; say why".into(),
        })]
    );
    assert_eq!(app.mode, Mode::Review);

    // The supervisor writes it and sends the review back.
    let diff = app.board.slices[0].diff.clone().unwrap();
    let written = comments::write(
        &diff,
        &at,
        "keep the filter; say why",
        1,
        jiff::Timestamp::UNIX_EPOCH,
    )
    .unwrap();
    app.apply(BoardUpdate::Review {
        slice: name("staging"),
        review: Review {
            comments: vec![written],
            looked: None,
            next: 2,
        },
    });
    let shown = render(&app, 120, 36);
    insta::assert_snapshot!("review_120x36", shown);
    let marked = shown.lines().filter(|l| l.contains("┃")).count();
    assert!(marked >= 3, "every commented line marked:\n{shown}");
    assert!(shown.contains("┗ #1 keep the filter; say why"), "{shown}");
    assert!(shown.contains("review: 1 comment "), "{shown}");
    // The board's line for the slice counts it.
    assert!(shown.contains("┃1"), "{shown}");

    // n goes to it; c edits it; d deletes it; s sends the review.
    press(&mut app, KeyCode::Char('g'));
    press(&mut app, KeyCode::Char('n'));
    assert_eq!(app.current_comment().map(|c| c.id), Some(1));
    press(&mut app, KeyCode::Char('c'));
    type_text(&mut app, ", please");
    assert_eq!(
        app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
        vec![Effect::Send(Command::EditComment {
            slice: name("staging"),
            id: 1,
            text: "keep the filter; say why, please".into(),
        })]
    );
    assert_eq!(
        app.on_key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::NONE)),
        vec![Effect::Send(Command::SendReview {
            slice: name("staging")
        })]
    );
    assert_eq!(
        app.on_key(KeyEvent::new(KeyCode::Char('d'), KeyModifiers::NONE)),
        vec![Effect::Send(Command::DeleteComment {
            slice: name("staging"),
            id: 1
        })]
    );
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.mode, Mode::Board);
    // At 80x24 the review still fits: cursor, comment and tray.
    press(&mut app, KeyCode::Char('c'));
    insta::assert_snapshot!("review_80x24", render(&app, 80, 24));
}

#[test]
fn l_shows_only_what_changed_since_the_last_look_and_reads_it_again_as_the_diff_moves() {
    use sliceboard::domain::comments::{Looked, Review, SinceLook};
    let mut app = app();
    // No look yet: it says how to make one.
    press(&mut app, KeyCode::Char('L'));
    assert!(app.since.is_none());
    assert!(
        app.message
            .as_deref()
            .unwrap_or_default()
            .contains("no last look at staging yet"),
        "{:?}",
        app.message
    );
    let looked = Looked {
        commit: "abcdef0123456789".into(),
        at: "2026-11-24T12:00:00Z".parse().unwrap(),
        how: "approved".into(),
    };
    app.apply(BoardUpdate::Review {
        slice: name("staging"),
        review: Review {
            comments: Vec::new(),
            looked: Some(looked.clone()),
            next: 1,
        },
    });
    press(&mut app, KeyCode::Char('L'));
    assert_eq!(app.since_to_read(), Some(name("staging")));
    assert_eq!(app.since_to_read(), None, "one read at a time");
    assert!(render(&app, 120, 30).contains("Reading what changed since your last look"));
    // Only schema.yml changed since.
    let whole = app.board.slices[0].diff.clone().unwrap();
    let since = SinceLook {
        looked,
        diff: SliceDiff {
            base: None,
            files: whole
                .files
                .iter()
                .filter(|f| f.path.ends_with("schema.yml"))
                .cloned()
                .collect(),
        },
    };
    app.since_read(&name("staging"), Ok(serde_json::to_string(&since).unwrap()));
    let shown = render(&app, 120, 30);
    assert!(
        shown.contains("since your last look: approved abcdef0123  (L: whole diff)"),
        "{shown}"
    );
    assert!(shown.contains("models/staging/schema.yml"), "{shown}");
    assert!(!shown.contains("stg_orders.sql"), "{shown}");
    // The live diff moves: it is read again.
    let moved = (*whole).clone();
    apply_diff(&mut app, "staging", moved, None);
    assert_eq!(app.since_to_read(), Some(name("staging")));
    // L again: the whole diff.
    press(&mut app, KeyCode::Char('L'));
    assert!(render(&app, 120, 30).contains("stg_orders.sql"));
}

#[test]
fn the_words_a_changed_line_differs_by_are_emphasized() {
    let mut app = app();
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Char(']'));
    press(&mut app, KeyCode::Char(']'));
    let buffer = draw(&app, 160, 40);
    // `current_timestamp` replaced `getdate()`: the new word on dark green,
    // the old on dark red; the words both share keep the line's colors.
    let (x, y) = find(&buffer, "current_timestamp as").expect("the added line");
    assert_eq!(buffer[(x, y)].bg, Color::Indexed(22));
    assert_eq!(buffer[(x + 18, y)].bg, Color::Reset, "` as` is shared");
    let (x, y) = find(&buffer, "getdate()").expect("the removed line");
    assert_eq!(buffer[(x, y)].bg, Color::Indexed(52));
    let (x, y) = find(&buffer, "loaded_at").expect("a shared word");
    assert_eq!(buffer[(x, y)].bg, Color::Reset);
}

#[test]
fn the_diff_side_by_side_at_160_columns_and_unified_below() {
    let mut app = app();
    press(&mut app, KeyCode::Char('|'));
    press(&mut app, KeyCode::Char(']'));
    press(&mut app, KeyCode::Char(']'));
    press(&mut app, KeyCode::Char('f'));
    let wide = render(&app, 200, 30);
    insta::assert_snapshot!("side_by_side_200x30", wide);
    // The removed line beside the two added in its place: the first
    // added one on the same row, old numbers left, new ones right.
    let row = wide
        .lines()
        .find(|l| l.contains("nvl(status"))
        .expect("the removed line");
    assert!(row.contains("   2 -") && row.contains("│   2 +"), "{row}");
    assert!(
        wide.lines()
            .any(|l| l.contains("  21 -    getdate() as loaded_at")
                && l.contains("│  22 +    current_timestamp as loaded_at")),
        "{wide}"
    );
    // Too narrow: unified, as before.
    let narrow = render(&app, 120, 30);
    assert!(
        narrow.contains("  21      -    getdate() as loaded_at"),
        "{narrow}"
    );
}

#[test]
fn at_80_by_24_the_board_keeps_names_whole_and_flags_apart() {
    let slices = vec![
        row(
            "staging-catalog",
            Lifecycle::Active,
            AgentStatus::Exited { code: Some(0) },
            None,
        ),
        row(
            "marts-finance",
            Lifecycle::Ready,
            AgentStatus::NotStarted,
            None,
        ),
    ];
    let board = Board {
        repo: "/work/shop".into(),
        slices,
        queue: Default::default(),
        plan_problem: None,
        guide: None,
    };
    let mut app = App::new(board, Keymap::default());
    let diff = SliceDiff {
        base: None,
        files: vec![
            file("models/marts/a.sql", ChangeKind::Modified, 1, 0, Vec::new()),
            file(
                "models/staging/b.sql",
                ChangeKind::Modified,
                1,
                0,
                Vec::new(),
            ),
        ],
    };
    apply_diff(&mut app, "staging-catalog", diff.clone(), None);
    apply_diff(&mut app, "marts-finance", diff, None);
    let shown = render(&app, 80, 24);
    // Each name whole, its state on the next line when both do not fit.
    let lines: Vec<&str> = shown.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("│>+ staging-catalog "))
        .expect("the name whole on the board");
    assert!(lines[at + 1].starts_with("│    exited(0) "), "{shown}");
    assert!(shown.contains("marts-finance ready"), "{shown}");
    // Outside and shared counted apart.
    assert!(shown.contains("!2o !2s"), "{shown}");
}

#[test]
fn slash_in_copy_mode_searches_the_terminal_and_puts_the_cursor_on_the_match() {
    use sliceboard::ui::app::CopyMode;
    let mut app = app();
    press(&mut app, KeyCode::Char('v'));
    assert!(matches!(app.mode, Mode::Copy(_)), "{:?}", app.mode);
    press(&mut app, KeyCode::Char('/'));
    for c in "migrated".chars() {
        press(&mut app, KeyCode::Char(c));
    }
    let asked = app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert_eq!(
        asked,
        vec![Effect::Search {
            slice: name("staging"),
            query: "migrated".into(),
            nth: 0
        }]
    );
    // On the live screen (offset 0): the cursor goes to its row.
    app.found(name("staging"), "migrated", 0, &[0]);
    let Mode::Copy(CopyMode { cursor, .. }) = &app.mode else {
        panic!("back in copy mode: {:?}", app.mode);
    };
    assert_eq!(
        *cursor,
        (1, 0),
        "`✓ migrated stg_orders.sql` is the second row"
    );
    // In history: the top of the view, where the match is.
    press(&mut app, KeyCode::Char('/'));
    press(&mut app, KeyCode::Char('x'));
    press(&mut app, KeyCode::Enter);
    app.found(name("staging"), "x", 0, &[40]);
    let Mode::Copy(CopyMode { cursor, .. }) = &app.mode else {
        panic!("back in copy mode: {:?}", app.mode);
    };
    assert_eq!(*cursor, (-40, 0));
    // Esc in the search goes back to copy mode too.
    press(&mut app, KeyCode::Char('/'));
    press(&mut app, KeyCode::Esc);
    assert!(matches!(app.mode, Mode::Copy(_)), "{:?}", app.mode);
}

#[test]
fn w_b_and_e_in_copy_mode_move_by_the_words_of_the_agents_screen() {
    use sliceboard::ui::app::CopyMode;
    let mut app = app();
    press(&mut app, KeyCode::Char('v'));
    let cursor = |app: &App| match &app.mode {
        Mode::Copy(CopyMode { cursor, .. }) => *cursor,
        other => panic!("not in copy mode: {other:?}"),
    };
    // Up to `✓ migrated stg_orders.sql`, the second row.
    while cursor(&app).0 > 1 {
        press(&mut app, KeyCode::Char('k'));
    }
    press(&mut app, KeyCode::Char('0'));
    let mut went = Vec::new();
    for key in ['w', 'w', 'w', 'e', 'b', 'B', 'E', 'w'] {
        press(&mut app, KeyCode::Char(key));
        went.push((key, cursor(&app)));
    }
    assert_eq!(
        went,
        vec![
            ('w', (1, 2)),  // migrated
            ('w', (1, 11)), // stg_orders
            ('w', (1, 21)), // .
            ('e', (1, 24)), // the end of sql
            ('b', (1, 22)), // sql
            ('B', (1, 11)), // stg_orders.sql, one WORD
            ('E', (1, 24)), // its end
            ('w', (2, 0)),  // Do, on the next row
        ]
    );
}

#[test]
fn the_demos_walkthrough_shows_below_the_panes_ticked_as_the_board_shows_steps_done() {
    use sliceboard::domain::guide::{Done, Guide, GuideStep};
    let name = |n: &str| SliceName::parse(n).unwrap();
    let mut app = app();
    app.board.guide = Some(Guide {
        title: "The demo, step by step:".into(),
        steps: vec![
            GuideStep {
                text: "1. Start the agents: s on each slice.".into(),
                done_when: vec![Done::Started {
                    slice: name("staging"),
                }],
            },
            GuideStep {
                text: "2. Approve staging (a).\n   It asks for a second look.".into(),
                done_when: vec![Done::Approved {
                    slice: name("staging"),
                }],
            },
            GuideStep {
                text: "3. Merge it (M).".into(),
                done_when: vec![Done::Merged {
                    slice: name("staging"),
                }],
            },
        ],
        notes: vec!["C cleans a merged slice.".into()],
    });
    // Nothing open until the board says there is a walkthrough.
    let closed = render(&app, 120, 40);
    assert!(!closed.contains("step by step"), "{closed}");
    app.guide_open = true;
    let screen = render(&app, 120, 40);
    assert!(
        screen.contains("The demo, step by step · 1 of 3 done · G hides"),
        "{screen}"
    );
    assert!(screen.contains("✓ 1. Start the agents"), "{screen}");
    assert!(screen.contains("→ 2. Approve staging (a)."), "{screen}");
    assert!(
        screen.contains("     It asks for a second look."),
        "{screen}"
    );
    assert!(screen.contains("  3. Merge it (M)."), "{screen}");
    app.board.slices[0].lifecycle = Lifecycle::Merged;
    let screen = render(&app, 120, 40);
    assert!(screen.contains("3 of 3 done"), "{screen}");
    // Done steps by their first line; the notes once all are done.
    assert!(!screen.contains("It asks for a second look."), "{screen}");
    assert!(screen.contains("C cleans a merged slice."), "{screen}");
    assert!(screen.contains("✓ 3. Merge it (M)."), "{screen}");
    // G hides it, and shows it again.
    app.on_key(crossterm::event::KeyEvent::from(
        crossterm::event::KeyCode::Char('G'),
    ));
    assert!(!render(&app, 120, 40).contains("step by step"));
    app.on_key(crossterm::event::KeyEvent::from(
        crossterm::event::KeyCode::Char('G'),
    ));
    assert!(render(&app, 120, 40).contains("step by step"));
}

#[test]
fn the_queues_check_output_wraps_a_long_line_whole_with_the_newest_row_at_the_bottom() {
    let mut app = app();
    app.layout = sliceboard::ui::app::Layout::Queue;
    let long = format!(
        "every migrated model is DuckDB SQL {} END-OF-LINE",
        "x".repeat(150)
    );
    app.board.queue.check_output = [
        "$ bash check.sh".to_owned(),
        long.clone(),
        "last line".to_owned(),
    ]
    .into_iter()
    .collect();
    let screen = render(&app, 100, 30);
    // The output pane's rows, continuations joined to the line they go on.
    let mut lines: Vec<String> = Vec::new();
    for row in screen
        .lines()
        .skip_while(|r| !r.contains("last check"))
        .skip(1)
    {
        let Some(inner) = row.split("││").nth(1) else {
            continue;
        };
        let inner = inner.trim_end_matches('│').trim_end();
        match (inner.strip_prefix("↪ "), lines.last_mut()) {
            (Some(rest), Some(line)) => line.push_str(rest),
            _ => lines.push(inner.to_owned()),
        }
    }
    let at = lines.iter().position(|l| l == &long);
    assert!(at.is_some(), "the long line whole: {lines:#?}\n{screen}");
    assert_eq!(lines[at.unwrap() + 1], "last line", "{screen}");
}

/// A sandboxed slice's pane says what it runs in and its ports, right
/// of its name; a slice with neither says nothing.
#[test]
fn a_pane_names_its_sandbox_and_ports() {
    let mut app = app();
    app.board.slices[0].sandbox = sliceboard::domain::sandbox::SliceBox {
        kind: sliceboard::domain::sandbox::SandboxKind::Bubblewrap,
        network: sliceboard::domain::sandbox::Network::None,
    };
    app.board.slices[0].ports.insert("web".into(), 21363);
    let screen = render(&app, 120, 24);
    let title = screen
        .lines()
        .find(|l| l.contains("staging") && l.contains('┐'))
        .unwrap_or_else(|| panic!("no pane title:\n{screen}"));
    assert!(
        title
            .trim_end()
            .ends_with(" bubblewrap, network none · web 21363 ┐"),
        "{title}"
    );
    app.board.slices[0] = row(
        "staging",
        Lifecycle::Active,
        AgentStatus::Running,
        Some(Activity::Waiting),
    );
    let screen = render(&app, 120, 24);
    assert!(!screen.contains("bubblewrap"), "{screen}");
}
