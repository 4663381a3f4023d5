//! An agent's terminal as it crosses the socket: rows of styled text.
//!
//! The supervisor's emulator keeps every pane; a dashboard asks for the
//! panes it shows ([`PaneWant`]: which slice, how far scrolled back) and
//! gets [`PaneFrame`]s, rendered from the emulator's grid. Only characters
//! and styles travel, never the agent's bytes, so nothing an agent prints
//! can reach the operator's terminal. A frame carries only the rows that
//! changed since the last frame that client got, unless it is `full`.

use serde::{Deserialize, Serialize};

use super::slice::SliceName;

/// The terminal modes that decide how input must be encoded. A field a
/// frame leaves out is off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InputModes {
    pub app_cursor: bool,
    pub app_keypad: bool,
    pub bracketed_paste: bool,
    /// Which mouse events the program asked to be told of.
    pub mouse: MouseTracking,
    /// Mouse reports in SGR form (DEC mode 1006) rather than X10 bytes.
    pub sgr_mouse: bool,
    pub alt_screen: bool,
}

impl InputModes {
    /// Whether the program asked for mouse reports at all.
    pub fn reports_mouse(&self) -> bool {
        self.mouse != MouseTracking::Off
    }
}

/// The mouse events a program asked its terminal to report (DEC private
/// modes 1000, 1002 and 1003; setting one turns the others off).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MouseTracking {
    /// No reports: the mouse is the terminal's own.
    #[default]
    Off,
    /// 1000: presses, releases and the wheel.
    Clicks,
    /// 1002: those, and motion while a button is held.
    Drags,
    /// 1003: those, and every motion.
    Motion,
}

/// A cell color: the terminal's default, one of the 256 indexed colors
/// (0–15 are the named ones), or 24-bit RGB; one number on the wire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PaneColor(u32);

/// A [`PaneColor`] taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorKind {
    Default,
    Indexed(u8),
    Rgb(u8, u8, u8),
}

const INDEXED: u32 = 1 << 8;
const RGB: u32 = 1 << 24;

impl PaneColor {
    pub const DEFAULT: PaneColor = PaneColor(0);

    pub fn indexed(index: u8) -> Self {
        PaneColor(INDEXED | u32::from(index))
    }

    pub fn rgb(r: u8, g: u8, b: u8) -> Self {
        PaneColor(RGB | (u32::from(r) << 16) | (u32::from(g) << 8) | u32::from(b))
    }

    pub fn kind(self) -> ColorKind {
        let v = self.0;
        if v & RGB != 0 {
            ColorKind::Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8)
        } else if v & INDEXED != 0 {
            ColorKind::Indexed(v as u8)
        } else {
            ColorKind::Default
        }
    }
}

/// Cell attributes, as bits of [`Style::attrs`].
pub mod attrs {
    pub const BOLD: u16 = 1;
    pub const DIM: u16 = 1 << 1;
    pub const ITALIC: u16 = 1 << 2;
    pub const UNDERLINE: u16 = 1 << 3;
    pub const INVERSE: u16 = 1 << 4;
    pub const HIDDEN: u16 = 1 << 5;
    pub const STRIKE: u16 = 1 << 6;
}

/// How a run of cells looks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Style {
    #[serde(default, skip_serializing_if = "is_default_color")]
    pub fg: PaneColor,
    #[serde(default, skip_serializing_if = "is_default_color")]
    pub bg: PaneColor,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attrs: u16,
}

fn is_default_color(c: &PaneColor) -> bool {
    *c == PaneColor::DEFAULT
}

fn is_zero(v: &u16) -> bool {
    *v == 0
}

/// Consecutive cells of one style. A wide character appears once (its
/// spacer cell is left out) and combining marks follow their base.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Run {
    pub text: String,
    #[serde(flatten)]
    pub style: Style,
}

/// One row of a pane, left to right; trailing default blanks left out.
pub type PaneLine = Vec<Run>;

/// How a copy takes a terminal's text between two places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyShape {
    /// From one character to another, as text flows.
    Chars,
    /// Whole lines.
    Lines,
    /// The same columns of every line between.
    Block,
}

/// What a copy takes of a terminal: between two places (line, column),
/// both included; line 0 is the top of the live screen, negative lines
/// are history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyRange {
    pub from: (i64, u16),
    pub to: (i64, u16),
    pub shape: CopyShape,
}

impl CopyRange {
    /// The same range with `from` first.
    pub fn ordered(self) -> Self {
        let (from, to) = if self.from <= self.to {
            (self.from, self.to)
        } else {
            (self.to, self.from)
        };
        Self { from, to, ..self }
    }
}

/// What a dashboard shows of one slice's terminal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaneWant {
    pub slice: SliceName,
    /// Lines scrolled back into history; 0 shows the live screen.
    #[serde(default)]
    pub scroll: usize,
}

/// One pane as the supervisor's emulator has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaneFrame {
    pub slice: SliceName,
    /// The emulator's size.
    pub cols: u16,
    pub rows: u16,
    /// Lines scrolled back that this frame shows (clamped to `history`).
    pub scroll: usize,
    /// Lines of history above the live screen.
    pub history: usize,
    /// The cursor (row, column) when it is visible on what is shown.
    pub cursor: Option<(u16, u16)>,
    pub modes: InputModes,
    /// Every row when true; otherwise only `changed` rows are here.
    pub full: bool,
    /// `(row, line)`: the rows this frame carries.
    pub changed: Vec<(u16, PaneLine)>,
}

/// A client's copy of a pane, patched by each frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PaneView {
    pub cols: u16,
    pub rows: u16,
    pub scroll: usize,
    pub history: usize,
    pub cursor: Option<(u16, u16)>,
    pub modes: InputModes,
    pub lines: Vec<PaneLine>,
}

impl PaneView {
    /// Applies a frame: all rows when it is full, the changed ones otherwise.
    pub fn apply(&mut self, frame: PaneFrame) {
        if frame.full || self.rows != frame.rows {
            self.lines = vec![Vec::new(); usize::from(frame.rows)];
        }
        self.cols = frame.cols;
        self.rows = frame.rows;
        self.scroll = frame.scroll;
        self.history = frame.history;
        self.cursor = frame.cursor;
        self.modes = frame.modes;
        for (row, line) in frame.changed {
            if let Some(slot) = self.lines.get_mut(usize::from(row)) {
                *slot = line;
            }
        }
    }

    /// The text of one row, as a person reads it.
    pub fn row_text(&self, row: usize) -> String {
        self.lines
            .get(row)
            .map(|runs| runs.iter().map(|r| r.text.as_str()).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colors_survive_the_wire() {
        for color in [
            PaneColor::DEFAULT,
            PaneColor::indexed(0),
            PaneColor::indexed(255),
            PaneColor::rgb(0, 0, 0),
            PaneColor::rgb(255, 128, 1),
        ] {
            let json = serde_json::to_string(&color).unwrap();
            let back: PaneColor = serde_json::from_str(&json).unwrap();
            assert_eq!(back.kind(), color.kind(), "{json}");
        }
        assert_eq!(PaneColor::indexed(0).kind(), ColorKind::Indexed(0));
        assert_eq!(PaneColor::rgb(0, 0, 0).kind(), ColorKind::Rgb(0, 0, 0));
    }

    #[test]
    fn input_modes_read_what_older_frames_left_out() {
        // Protocol 3 had one `mouse_reporting` flag and no tracking mode.
        let old: InputModes =
            serde_json::from_str(r#"{"app_cursor":true,"mouse_reporting":true,"sgr_mouse":true}"#)
                .unwrap();
        assert!(old.app_cursor && old.sgr_mouse && !old.alt_screen);
        assert_eq!(old.mouse, MouseTracking::Off);
        let drags = InputModes {
            mouse: MouseTracking::Drags,
            ..InputModes::default()
        };
        let json = serde_json::to_string(&drags).unwrap();
        assert!(json.contains(r#""mouse":"drags""#), "{json}");
        assert_eq!(serde_json::from_str::<InputModes>(&json).unwrap(), drags);
        assert!(drags.reports_mouse() && !InputModes::default().reports_mouse());
    }

    #[test]
    fn a_partial_frame_patches_only_its_rows() {
        let slice = SliceName::parse("a").unwrap();
        let line = |t: &str| {
            vec![Run {
                text: t.into(),
                style: Style::default(),
            }]
        };
        let mut view = PaneView::default();
        view.apply(PaneFrame {
            slice: slice.clone(),
            cols: 10,
            rows: 2,
            scroll: 0,
            history: 0,
            cursor: None,
            modes: InputModes::default(),
            full: true,
            changed: vec![(0, line("one")), (1, line("two"))],
        });
        view.apply(PaneFrame {
            slice,
            cols: 10,
            rows: 2,
            scroll: 0,
            history: 0,
            cursor: Some((1, 3)),
            modes: InputModes::default(),
            full: false,
            changed: vec![(1, line("TWO"))],
        });
        assert_eq!(view.row_text(0), "one");
        assert_eq!(view.row_text(1), "TWO");
        let json = serde_json::to_string(&line("x")).unwrap();
        assert_eq!(json, r#"[{"text":"x"}]"#);
    }
}
