//! Tracing goes to a file (the state dir's `sliceboard.log`, or the
//! client's cache for a remote dashboard), never to a terminal that a
//! dashboard draws on.

use std::path::Path;
use std::sync::Mutex;

/// Tracing to `path`; never to a terminal.
pub fn init(path: &Path) {
    if let Some(dir) = path.parent() {
        let _ = crate::os::private::create_dir(dir);
    }
    let Ok(file) = crate::os::private::open_append(path) else {
        return;
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .try_init();
}
