//! The dashboard: a client of the repository's supervisor, drawing the
//! board and the panes it sends, and sending the operator's commands.
//!
//! [`run`] wires it up and loops: the terminal's input, the supervisor's
//! messages and the signals that end a dashboard arrive in one [`Inbox`]
//! (threads in `inbox`, a writer thread sending to the supervisor); the
//! loop drains every pending message and hands each to the [`Dashboard`]
//! (`dashboard`: the [`App`](app::App) model, the terminal, requests
//! waiting for replies), which draws at most once per frame (60 a second
//! at most) and only when something changed. After each draw it tells the
//! supervisor which panes it shows (and resizes agents to the space they
//! got), so only those panes' frames come back. The terminal's modes are
//! one guard (`terminal`), restored on exit, on Ctrl-Z and on a panic.
//! Quitting detaches: the agents go on. A supervisor that ends says
//! goodbye (and why) before it closes; a connection that closes without
//! one was lost, and one silent for a few heartbeats shows as stalled.

pub mod activity_view;
pub mod app;
pub mod board_view;
pub mod clipboard;
mod dashboard;
pub mod dbt_view;
pub mod diff_model;
pub mod diff_view;
pub mod guide_view;
mod help_view;
pub mod highlight;
mod inbox;
pub mod keymap;
pub mod mouse;
pub mod queue_view;
pub mod report;
pub mod review_view;
pub mod side_by_side;
mod terminal;
pub mod tty_input;
mod variants;
pub mod view;
pub mod word_diff;

use std::path::Path;

use anyhow::Context as _;

use self::app::App;
use self::dashboard::Dashboard;
use self::inbox::Inbox;
use self::keymap::Keymap;
use crate::link::Link;

/// How a dashboard session ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The operator left; the supervisor and its agents go on.
    Detached,
    /// The supervisor said it ends (stopped, by whom): why.
    Stopped(String),
    /// The connection closed without a goodbye (ssh died, the proxy or
    /// the supervisor was killed): the supervisor may still run.
    Lost(String),
}

/// Runs the dashboard on a connected supervisor until the operator leaves
/// or the supervisor goes. Tracing goes to `log_file`.
pub fn run(link: Link, log_file: &Path) -> anyhow::Result<Ended> {
    let keymap = Keymap::load(Keymap::config_path().as_deref()).map_err(anyhow::Error::msg)?;
    crate::log_file::init(log_file);
    let heartbeats = link.heartbeats();
    let (reader, writer, welcome) = link.split();
    let board = welcome
        .board
        .context("the supervisor sent no board; is it a dashboard connection?")?;
    let outbox = inbox::spawn_writer(writer);
    let inbox = Inbox::start(reader)?;
    let mut dashboard = Dashboard::new(App::new(board, keymap), outbox, inbox.gate())?;
    dashboard.heartbeats = heartbeats;
    loop {
        let mut ended = None;
        for msg in inbox.drain(dashboard.wait()) {
            if let Some(end) = dashboard.handle(msg)? {
                ended = Some(end);
            }
        }
        dashboard.tick();
        if inbox.signalled() {
            ended = Some(Ended::Detached);
        }
        if let Some(ended) = ended {
            return Ok(ended);
        }
        dashboard.draw_if_dirty()?;
    }
}
