//! Every cell attribute alacritty_terminal keeps reaches the dashboard's
//! buffer: the same bytes go into alacritty's own `Term` and through
//! sliceboard's path (our `Screen`, a pane frame, the `PaneView` a client
//! holds, `render_pane` into a ratatui buffer), and the two grids are
//! compared cell by cell: characters with their combining marks, and
//! bold, dim, italic, underline (every kind), inverse, strike-through and
//! concealed (drawn blank, its text never copied).

use crate::common;

use alacritty_terminal::event::VoidListener;
use alacritty_terminal::grid::Dimensions;
use alacritty_terminal::index::{Column, Line};
use alacritty_terminal::term::cell::Flags;
use alacritty_terminal::term::{Config, Term};
use alacritty_terminal::vte::ansi::Processor;
use common::ui::{name, whole_frame};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use sliceboard::domain::pane::PaneView;
use sliceboard::session::{Screen, Size};
use sliceboard::ui::view::render_pane;

const COLS: u16 = 40;
const ROWS: u16 = 8;

struct Dims;

impl Dimensions for Dims {
    fn total_lines(&self) -> usize {
        usize::from(ROWS)
    }
    fn screen_lines(&self) -> usize {
        usize::from(ROWS)
    }
    fn columns(&self) -> usize {
        usize::from(COLS)
    }
}

/// Each line shows one attribute; `e` + U+0301 and a Hangul jamo sequence
/// test combining marks.
const BYTES: &[u8] = "plain cafe\u{301} and n\u{303}o\r\n\
    \x1b[1mbold\x1b[0m \x1b[2mdim\x1b[0m \x1b[3mitalic\x1b[0m \x1b[7minverse\x1b[0m\r\n\
    \x1b[4munder\x1b[0m \x1b[4:3mcurly\x1b[0m \x1b[21mdouble\x1b[0m \x1b[4:4mdots\x1b[0m\r\n\
    \x1b[9mstruck through\x1b[0m after\r\n\
    a\x1b[8msecret\x1b[0mb visible\r\n\
    \x1b[1;3;9mall three\x1b[0m \x1b[2;7mdim inverse\x1b[0m\r\n\
    wide \u{4e2d}\u{6587} e\u{301}\u{302} end"
    .as_bytes();

fn modifiers(flags: Flags) -> Modifier {
    let mut m = Modifier::empty();
    for (flag, modifier) in [
        (Flags::BOLD, Modifier::BOLD),
        (Flags::DIM, Modifier::DIM),
        (Flags::ITALIC, Modifier::ITALIC),
        (Flags::INVERSE, Modifier::REVERSED),
        (Flags::STRIKEOUT, Modifier::CROSSED_OUT),
    ] {
        if flags.contains(flag) {
            m |= modifier;
        }
    }
    if flags.intersects(Flags::ALL_UNDERLINES) {
        m |= Modifier::UNDERLINED;
    }
    m
}

#[test]
fn every_attribute_and_combining_mark_matches_alacrittys_grid() {
    let mut term = Term::new(Config::default(), &Dims, VoidListener);
    let mut parser: Processor = Processor::new();
    parser.advance(&mut term, BYTES);

    let mut screen = Screen::new(
        Size {
            cols: COLS,
            rows: ROWS,
        },
        0,
    );
    screen.feed(BYTES);
    // As the supervisor sends it: the header, and every row in it.
    let mut view = PaneView::default();
    view.apply(whole_frame(&screen, &name("cells")));
    let area = Rect::new(0, 0, COLS, ROWS);
    let mut buf = Buffer::empty(area);
    render_pane(&view, area, &mut buf);

    let grid = term.grid();
    let mut checked = 0;
    for row in 0..ROWS {
        for col in 0..COLS {
            let cell = &grid[Line(i32::from(row))][Column(usize::from(col))];
            let ours = &buf[(col, row)];
            if cell.flags.contains(Flags::WIDE_CHAR_SPACER) {
                continue;
            }
            let mut expected = String::from(cell.c);
            if let Some(marks) = cell.zerowidth() {
                expected.extend(marks);
            }
            if cell.flags.contains(Flags::HIDDEN) {
                expected = " ".into();
            }
            assert_eq!(
                ours.symbol(),
                expected,
                "the character at row {row}, column {col}"
            );
            let want = modifiers(cell.flags);
            assert_eq!(
                ours.modifier, want,
                "the attributes of {expected:?} at row {row}, column {col}"
            );
            checked += 1;
        }
    }
    assert!(checked > 300, "{checked} cells compared");

    // Concealed text is never copied into the dashboard's buffer.
    let text: String = (0..COLS)
        .map(|col| buf[(col, 4)].symbol().to_owned())
        .collect();
    assert!(text.starts_with("a      b visible"), "{text:?}");
    assert!(!text.contains("secret"));
}

/// Emoji the emulator lays out its own way keep its columns here: a skin
/// tone is a wide cell of its own, VS16 and ZWJ join the cell before, a
/// flag is two narrow cells. So nothing after them shifts, and a mark that
/// would make the host draw a cell wider than the emulator did is left
/// out (`❤` + VS16 is one column in the emulator).
#[test]
fn emoji_sit_in_the_columns_the_emulator_gave_them() {
    let bytes = "a\u{1F44D}\u{1F3FD}b \u{2764}\u{FE0F}c \u{1F3F3}\u{FE0F}\u{200D}\u{1F308}d \u{1F1EB}\u{1F1F7}e|"
        .as_bytes();
    let mut term = Term::new(Config::default(), &Dims, VoidListener);
    let mut parser: Processor = Processor::new();
    parser.advance(&mut term, bytes);
    let mut screen = Screen::new(
        Size {
            cols: COLS,
            rows: ROWS,
        },
        0,
    );
    screen.feed(bytes);
    let mut view = PaneView::default();
    view.apply(whole_frame(&screen, &name("emoji")));
    let area = Rect::new(0, 0, COLS, ROWS);
    let mut buf = Buffer::empty(area);
    render_pane(&view, area, &mut buf);

    let row = &term.grid()[Line(0)];
    let mut col = 0;
    let mut cells = Vec::new();
    while col < usize::from(COLS) {
        let cell = &row[Column(col)];
        let width = if cell.flags.contains(Flags::WIDE_CHAR) {
            2
        } else {
            1
        };
        let ours = buf[(col as u16, 0)].symbol().to_owned();
        assert!(
            ours.starts_with(cell.c),
            "column {col}: {:?} in the emulator, {ours:?} here",
            cell.c
        );
        assert_eq!(
            unicode_width::UnicodeWidthStr::width(ours.as_str()),
            width,
            "column {col}: {ours:?} must be drawn {width} wide, as the emulator has it"
        );
        cells.push(ours);
        col += width;
    }
    let line: String = cells.concat();
    assert!(
        line.starts_with("a\u{1F44D}\u{1F3FD}b \u{2764}c \u{1F3F3}\u{1F308}d \u{1F1EB}\u{1F1F7}e|"),
        "{line:?}"
    );
    // The text after them is where the emulator put it.
    let bar = (0..COLS).find(|&c| buf[(c, 0)].symbol() == "|").unwrap();
    assert_eq!(row[Column(usize::from(bar))].c, '|');
}
