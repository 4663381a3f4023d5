//! The alternate screen's grid, spared while no program uses it.
//!
//! alacritty allocates the alternate screen's grid at the terminal's full
//! size from the start, and keeps it so through every resize, whether a
//! program ever switches to it or not: 240 KiB at 200x50, 960 KiB at
//! 400x100, for every agent. A screen on the primary screen lets it go
//! down to one row ([`spare`]) once its output is quiet, and gets it back
//! whole ([`restore`]) just before a program switches to it. alacritty's
//! own resize gives it back whole too.
//!
//! alacritty reaches that grid only through `swap_alt`, so both swap to
//! it and back. On the way to the alternate screen `swap_alt` makes the
//! primary screen's saved cursor (DECSC) the cursor, clears the alternate
//! grid and clears the selection; the saved cursor is put back, the
//! alternate grid's content is cleared on every switch to it anyway, and
//! the selection is not used (the dashboard keeps its own).

use alacritty_terminal::grid::{Dimensions, Grid};
use alacritty_terminal::term::cell::Cell;
use alacritty_terminal::term::{Term, TermMode};

use super::Requests;

/// Frees the alternate grid down to one row. Only on the primary screen.
pub(super) fn spare(term: &mut Term<Requests>) {
    with_alternate_grid(term, |grid| {
        let columns = grid.columns();
        grid.resize(false, 1, columns);
        // The rows beyond the one kept are dropped, not kept for later.
        grid.truncate();
    });
}

/// Gives the alternate grid back the terminal's size.
pub(in crate::session) fn restore(term: &mut Term<Requests>) {
    let (lines, columns) = (term.screen_lines(), term.columns());
    with_alternate_grid(term, |grid| grid.resize(false, lines, columns));
}

/// `change` on the alternate grid, from the primary screen, leaving the
/// primary screen as it was.
pub(super) fn with_alternate_grid(term: &mut Term<Requests>, change: impl FnOnce(&mut Grid<Cell>)) {
    debug_assert!(!term.mode().contains(TermMode::ALT_SCREEN));
    let saved = term.grid().saved_cursor.clone();
    term.swap_alt();
    change(term.grid_mut());
    term.swap_alt();
    term.grid_mut().saved_cursor = saved;
}
