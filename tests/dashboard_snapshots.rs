//! The dashboard drawn on ratatui's TestBackend: the board, each tab, the
//! grid, help and confirmations, at 80x24 and 200x50.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use sliceboard::dbt::run_results;
use sliceboard::domain::{Activity, AgentStatus, Lifecycle, SliceName};
use sliceboard::session::{Screen, ScreenHandle, Size};
use sliceboard::ui::app::{App, SliceRow};
use sliceboard::ui::keymap::Keymap;
use sliceboard::ui::view;

fn row(
    name: &str,
    lifecycle: Lifecycle,
    status: AgentStatus,
    activity: Option<Activity>,
) -> SliceRow {
    SliceRow {
        name: SliceName::parse(name).unwrap(),
        lifecycle,
        status,
        activity,
        dbt: None,
        events: vec![
            "12:00:01 agent running".into(),
            "12:00:05 activity WAITING".into(),
        ],
        worktree: PathBuf::from(format!("/work/shop.slices/{name}")),
        dbt_log: [
            "12:00:01 Running with dbt=1.11.16",
            "12:00:03 1 of 7 OK loaded seed file dbt_staging.orders",
            "12:00:04 Done. PASS=4 WARN=0 ERROR=2 SKIP=1",
        ]
        .map(String::from)
        .into(),
        logs: (1..=40)
            .map(|i| format!("logs/airflow/task.log: [2026-11-24 12:00:{i:02}] task step {i}"))
            .collect(),
        follows_logs: true,
    }
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
    ];
    slices[0].dbt =
        Some(run_results::parse(include_str!("fixtures/dbt_logs/run_results.json")).unwrap());
    App::new("/work/shop".into(), slices, Keymap::default())
}

fn screens(app: &App) -> BTreeMap<SliceName, ScreenHandle> {
    app.slices
        .iter()
        .take(4)
        .map(|row| {
            let mut screen = Screen::new(Size { cols: 60, rows: 20 }, 100);
            screen.feed(
                format!(
                    "\x1b[1m{} agent\x1b[0m\r\n\x1b[32m✓\x1b[0m migrated stg_orders.sql\r\nDo you want to proceed?\r\n\x1b[7m❯ 1. Yes\x1b[0m\r\n  2. No\r\n",
                    row.name
                )
                .as_bytes(),
            );
            (row.name.clone(), ScreenHandle::detached(screen))
        })
        .collect()
}

fn render(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    let screens = screens(app);
    terminal
        .draw(|frame| {
            view::draw(frame, app, &screens);
        })
        .unwrap();
    let buffer = terminal.backend().buffer();
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

fn press(app: &mut App, code: KeyCode) {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
}

#[test]
fn board_with_terminal_tab() {
    let app = app();
    insta::assert_snapshot!("board_terminal_80x24", render(&app, 80, 24));
    insta::assert_snapshot!("board_terminal_200x50", render(&app, 200, 50));
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
fn grid_of_all_terminals() {
    let mut app = app();
    press(&mut app, KeyCode::Char('g'));
    insta::assert_snapshot!("grid_80x24", render(&app, 80, 24));
    insta::assert_snapshot!("grid_200x50", render(&app, 200, 50));
}

#[test]
fn help_overlay_and_quit_confirmation() {
    let mut app = app();
    press(&mut app, KeyCode::Char('?'));
    insta::assert_snapshot!("help_80x24", render(&app, 80, 24));
    insta::assert_snapshot!("help_200x50", render(&app, 200, 50));
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('q'));
    insta::assert_snapshot!("quit_confirm_80x24", render(&app, 80, 24));
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
