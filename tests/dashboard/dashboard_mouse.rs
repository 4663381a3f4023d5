//! The mouse inside agents' panes, on the dashboard's model drawn on
//! ratatui's TestBackend: each agent's terminal is emulated for real (so
//! its modes are the ones its escapes set), the view records where it
//! drew each pane, and a mouse event at a screen cell becomes what a real
//! terminal would send the agent, or stays the dashboard's.

use std::path::PathBuf;

use crate::common;

use crossterm::event::{KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

use common::ui::{draw, name, press, whole_frame};
use ratatui::buffer::Buffer;
use sliceboard::domain::board::Board;
use sliceboard::domain::{AgentStatus, Command, Lifecycle};
use sliceboard::session::{Screen, Size};
use sliceboard::ui::app::{App, Effect, Layout, SliceRow};
use sliceboard::ui::keymap::Keymap;
use sliceboard::ui::mouse::on_mouse;

/// Running agents on 40x12 screens that got `escapes`, then 60 lines of
/// history and a first line naming the slice (`<slice>-top`).
fn app(agents: &[(&str, &str)]) -> App {
    app_of(agents, Size { cols: 40, rows: 12 })
}

fn app_of(agents: &[(&str, &str)], size: Size) -> App {
    let slices = agents
        .iter()
        .map(|(slice, _)| {
            let mut row = SliceRow::new(
                name(slice),
                Lifecycle::Active,
                PathBuf::from(format!("/work/shop.slices/{slice}")),
            );
            row.status = AgentStatus::Running;
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
    for (slice, escapes) in agents {
        let mut screen = Screen::new(size, 100);
        for i in 0..60 {
            screen.feed(format!("history {i}\r\n").as_bytes());
        }
        screen.feed(escapes.as_bytes());
        screen.feed(format!("\x1b[H\x1b[2J{slice}-top\r\n").as_bytes());
        app.apply_pane(whole_frame(&screen, &name(slice)));
    }
    app
}

/// Where `text` starts on the screen.
fn find(buffer: &Buffer, text: &str) -> (u16, u16) {
    common::ui::find(buffer, text).unwrap_or_else(|| panic!("{text} is not on the screen"))
}

/// The top-left cell of a slice's pane on a screen of `width` x `height`.
fn pane_origin(app: &App, slice: &str, width: u16, height: u16) -> (u16, u16) {
    find(&draw(app, width, height), &format!("{slice}-top"))
}

fn mouse(
    app: &mut App,
    kind: MouseEventKind,
    at: (u16, u16),
    modifiers: KeyModifiers,
) -> Vec<Effect> {
    on_mouse(
        app,
        MouseEvent {
            kind,
            column: at.0,
            row: at.1,
            modifiers,
        },
        120,
    )
}

fn input(slice: &str, bytes: &[u8]) -> Vec<Effect> {
    vec![Effect::Send(Command::SendInput {
        slice: name(slice),
        bytes: bytes.to_vec(),
    })]
}

const NONE: KeyModifiers = KeyModifiers::NONE;
const LEFT_DOWN: MouseEventKind = MouseEventKind::Down(MouseButton::Left);
const LEFT_UP: MouseEventKind = MouseEventKind::Up(MouseButton::Left);

#[test]
fn an_agent_with_sgr_mouse_reporting_gets_clicks_at_pane_relative_cells() {
    // 1002: clicks and drags; 1006: SGR.
    let mut app = app(&[("staging", "\x1b[?1002h\x1b[?1006h"), ("marts", "")]);
    let (x, y) = pane_origin(&app, "staging", 120, 30);
    let cell = (x + 7, y + 3);

    assert_eq!(
        mouse(&mut app, LEFT_DOWN, cell, NONE),
        input("staging", b"\x1b[<0;8;4M")
    );
    // Dragged past its grid (40 columns) and out of the pane onto the
    // board: still the agent's, clamped to its grid, and the release too.
    let drag = MouseEventKind::Drag(MouseButton::Left);
    assert_eq!(
        mouse(&mut app, drag, (x + 70, y + 2), NONE),
        input("staging", b"\x1b[<32;40;3M")
    );
    assert_eq!(
        mouse(&mut app, drag, (x - 3, y + 2), NONE),
        input("staging", b"\x1b[<32;1;3M")
    );
    assert_eq!(
        mouse(&mut app, LEFT_UP, (x - 3, y + 2), NONE),
        input("staging", b"\x1b[<0;1;3m")
    );
    // Released, a drag on the board is no longer the agent's.
    assert_eq!(mouse(&mut app, drag, (x - 3, y + 2), NONE), vec![]);
    // Motion with no button held is not asked for by 1002.
    assert_eq!(mouse(&mut app, MouseEventKind::Moved, cell, NONE), vec![]);
    let right = MouseEventKind::Down(MouseButton::Right);
    assert_eq!(
        mouse(
            &mut app,
            right,
            (x, y),
            KeyModifiers::CONTROL | KeyModifiers::ALT
        ),
        input("staging", b"\x1b[<26;1;1M")
    );
    assert_eq!(
        mouse(&mut app, MouseEventKind::ScrollDown, cell, NONE),
        input("staging", b"\x1b[<65;8;4M")
    );
    assert_eq!(app.scroll.get(&name("staging")).copied().unwrap_or(0), 0);

    // Shift keeps the mouse for the dashboard: no input, and the wheel
    // scrolls the terminal's own history.
    assert_eq!(
        mouse(&mut app, LEFT_DOWN, cell, KeyModifiers::SHIFT),
        vec![]
    );
    assert_eq!(
        mouse(
            &mut app,
            MouseEventKind::ScrollUp,
            cell,
            KeyModifiers::SHIFT
        ),
        vec![]
    );
    assert_eq!(app.scroll.get(&name("staging")), Some(&3));
    // Scrolled back, what is shown is not what the agent has: the mouse
    // stays the dashboard's until the pane follows again.
    assert_eq!(mouse(&mut app, LEFT_DOWN, cell, NONE), vec![]);
    assert_eq!(
        mouse(&mut app, MouseEventKind::ScrollDown, cell, NONE),
        vec![]
    );
    assert_eq!(app.scroll.get(&name("staging")), Some(&0));
    assert_eq!(
        mouse(&mut app, LEFT_DOWN, cell, NONE),
        input("staging", b"\x1b[<0;8;4M")
    );

    // A click on the board keeps its meaning: it selects a slice.
    let buffer = draw(&app, 120, 30);
    let marts = find(&buffer, "marts");
    assert!(marts.0 < x, "marts is on the board, left of the pane");
    assert_eq!(mouse(&mut app, LEFT_DOWN, marts, NONE), vec![]);
    assert_eq!(app.selected().unwrap().name.as_str(), "marts");

    // Help over the panes: clicks are not the agent's.
    app.selected = 0;
    press(&mut app, KeyCode::Char('?'));
    draw(&app, 120, 30);
    assert_eq!(mouse(&mut app, LEFT_DOWN, cell, NONE), vec![]);
}

#[test]
fn x10_reports_end_where_a_byte_cannot_hold_the_cell() {
    let mut app = app(&[("staging", "\x1b[?1000h")]);
    let (x, y) = pane_origin(&app, "staging", 120, 30);
    assert_eq!(
        mouse(&mut app, LEFT_DOWN, (x + 2, y + 1), NONE),
        input("staging", &[0x1b, b'[', b'M', 32, 32 + 3, 32 + 2])
    );
    assert_eq!(
        mouse(&mut app, LEFT_UP, (x + 2, y + 1), NONE),
        input("staging", &[0x1b, b'[', b'M', 32 + 3, 32 + 3, 32 + 2])
    );
    // 1000 asks for no motion.
    let drag = MouseEventKind::Drag(MouseButton::Left);
    assert_eq!(mouse(&mut app, drag, (x + 3, y + 1), NONE), vec![]);

    // A terminal 250 columns wide: X10 says up to column 223, no further.
    let mut app = app_of(
        &[("staging", "\x1b[?1000h")],
        Size {
            cols: 250,
            rows: 12,
        },
    );
    press(&mut app, KeyCode::Char('f'));
    let (x, y) = pane_origin(&app, "staging", 300, 30);
    assert_eq!(
        mouse(&mut app, LEFT_DOWN, (x + 222, y), NONE),
        input("staging", &[0x1b, b'[', b'M', 32, 255, 33])
    );
    assert_eq!(mouse(&mut app, LEFT_DOWN, (x + 223, y), NONE), vec![]);
    assert_eq!(
        mouse(&mut app, MouseEventKind::ScrollUp, (x + 223, y), NONE),
        vec![]
    );
    assert_eq!(
        app.scroll.get(&name("staging")),
        None,
        "nor is it the dashboard's"
    );
}

#[test]
fn the_wheel_on_the_alternate_screen_without_mouse_reporting_is_arrow_keys() {
    // less: the alternate screen, application cursor keys, no mouse.
    let mut app = app(&[("staging", "\x1b[?1049h\x1b[?1h"), ("marts", "")]);
    let (x, y) = pane_origin(&app, "staging", 120, 30);
    assert_eq!(
        mouse(&mut app, MouseEventKind::ScrollDown, (x + 1, y + 1), NONE),
        input("staging", b"\x1bOB\x1bOB\x1bOB")
    );
    assert_eq!(
        mouse(&mut app, MouseEventKind::ScrollUp, (x + 1, y + 1), NONE),
        input("staging", b"\x1bOA\x1bOA\x1bOA")
    );
    // Clicks are nothing to it; Shift gives the wheel to the dashboard.
    assert_eq!(mouse(&mut app, LEFT_DOWN, (x + 1, y + 1), NONE), vec![]);
    let shifted = mouse(
        &mut app,
        MouseEventKind::ScrollUp,
        (x, y),
        KeyModifiers::SHIFT,
    );
    assert_eq!(shifted, vec![]);

    // On its normal screen, the wheel scrolls the dashboard's copy of the
    // terminal's history, as it always did.
    press(&mut app, KeyCode::Char('j'));
    let (x, y) = pane_origin(&app, "marts", 120, 30);
    assert_eq!(
        mouse(&mut app, MouseEventKind::ScrollUp, (x + 1, y + 1), NONE),
        vec![]
    );
    assert_eq!(app.scroll.get(&name("marts")), Some(&3));
    assert_eq!(mouse(&mut app, LEFT_DOWN, (x + 1, y + 1), NONE), vec![]);
}

#[test]
fn the_grid_and_the_full_screen_forward_to_the_pane_under_the_mouse() {
    let mut app = app(&[
        ("staging", ""),
        ("marts", "\x1b[?1000h\x1b[?1006h"),
        ("seeds", "\x1b[?1049h"),
        ("docs", ""),
    ]);
    press(&mut app, KeyCode::Char('g'));
    assert_eq!(app.layout, Layout::Grid);
    let buffer = draw(&app, 120, 30);
    // staging is selected; marts' pane gets marts' click all the same.
    let (x, y) = find(&buffer, "marts-top");
    assert_eq!(
        mouse(&mut app, LEFT_DOWN, (x + 4, y + 2), NONE),
        input("marts", b"\x1b[<0;5;3M")
    );
    let (x, y) = find(&buffer, "seeds-top");
    assert_eq!(
        mouse(&mut app, MouseEventKind::ScrollDown, (x, y), NONE),
        input("seeds", b"\x1b[B\x1b[B\x1b[B")
    );
    // The wheel over docs' pane scrolls docs' history, not the selected
    // terminal's.
    let (x, y) = find(&buffer, "docs-top");
    assert_eq!(
        mouse(&mut app, MouseEventKind::ScrollUp, (x, y), NONE),
        vec![]
    );
    assert_eq!(app.scroll.get(&name("docs")), Some(&3));
    assert_eq!(app.scroll.get(&name("staging")), None);
    assert_eq!(app.selected().unwrap().name.as_str(), "staging");

    // The selected terminal full screen.
    press(&mut app, KeyCode::Char('j'));
    press(&mut app, KeyCode::Char('f'));
    assert_eq!(app.layout, Layout::Full);
    let (x, y) = pane_origin(&app, "marts", 120, 30);
    assert_eq!((x, y), (1, 2), "the pane fills the body, inside its border");
    assert_eq!(
        mouse(&mut app, LEFT_DOWN, (x + 30, y + 9), NONE),
        input("marts", b"\x1b[<0;31;10M")
    );
    // An agent that ended is sent nothing, whatever modes it left behind.
    app.board.slices[1].status = AgentStatus::Exited { code: Some(0) };
    assert_eq!(mouse(&mut app, LEFT_DOWN, (x + 30, y + 9), NONE), vec![]);
}
