//! Bytes recorded from real full-screen programs in a 60x12 terminal
//! replay into the emulator as the screen a person saw.
//!
//! Recorded with a Python pty on Debian 12 (vim 9.0, less 590), on
//! a five-line SQL model.

use sliceboard::session::{Screen, Size};

fn replay(bytes: &[u8]) -> Screen {
    let mut screen = Screen::new(Size { cols: 60, rows: 12 }, 100);
    // Feed in small uneven chunks, as a PTY delivers them, so sequences
    // split across reads are exercised too.
    for chunk in bytes.chunks(37) {
        screen.feed(chunk);
    }
    screen
}

#[test]
fn vim_vsplit_replays_into_two_windows() {
    let screen = replay(include_bytes!("../fixtures/vim-vsplit-60x12.bin"));
    assert!(screen.input_modes().alt_screen);
    assert!(screen.input_modes().bracketed_paste);
    insta::assert_snapshot!(screen.text());
}

#[test]
fn less_replays_the_file_and_its_prompt() {
    let screen = replay(include_bytes!("../fixtures/less-60x12.bin"));
    insta::assert_snapshot!(screen.text());
}
