//! The dashboard: drawn on ratatui's `TestBackend` (snapshots, cells,
//! the mouse) and run for real inside tmux. One test binary, so that the
//! crates they all need are linked once.

#[path = "../common/mod.rs"]
mod common;

mod cells;
mod dashboard_mouse;
mod dashboard_snapshots;
mod dashboard_tmux;
mod host_bytes;
