//! Noticing that `sliceboard.toml` changed: one inotify watch on the
//! repository's root folder (not on the file: editors save by writing a
//! new file and renaming it over the old one, which a watch on the file
//! would lose), events for other names dropped in notify's callback.
//!
//! A thread waits for events and calls `on_change` once the file has been
//! quiet for [`QUIET`], so an editor's write-then-rename is read once,
//! whole. Idle, the thread sleeps in `recv`: no polling. It reads nothing
//! itself; what a change means is for whoever it calls.

use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher as _};

/// How long the file must be quiet before it is read again.
pub const QUIET: Duration = Duration::from_millis(100);

/// Called once the plan file changed and went quiet.
pub type OnPlanChange = Arc<dyn Fn() + Send + Sync>;

enum Msg {
    Changed,
    Stop,
}

/// The running watch; dropping it stops its thread.
pub struct PlanWatch {
    tx: mpsc::Sender<Msg>,
    thread: Option<std::thread::JoinHandle<()>>,
    // Kept alive for its inotify watch.
    _watcher: notify::RecommendedWatcher,
}

impl PlanWatch {
    /// Watches `file` (the plan, at the repository root).
    pub fn start(file: &Path, on_change: OnPlanChange) -> anyhow::Result<Self> {
        let folder = file
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_owned);
        let name = file.file_name().map(ToOwned::to_owned);
        let (tx, rx) = mpsc::channel();
        let events = tx.clone();
        let mut watcher =
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                let Ok(event) = res else {
                    // An overflow may have hidden our file: read it again.
                    let _ = events.send(Msg::Changed);
                    return;
                };
                if matches!(event.kind, EventKind::Access(_)) {
                    return;
                }
                if event.paths.iter().any(|p| p.file_name() == name.as_deref()) {
                    let _ = events.send(Msg::Changed);
                }
            })?;
        watcher.watch(&folder, RecursiveMode::NonRecursive)?;
        let thread = std::thread::Builder::new()
            .name("plan-watch".into())
            .spawn(move || wait_for_changes(&rx, &on_change))?;
        Ok(Self {
            tx,
            thread: Some(thread),
            _watcher: watcher,
        })
    }
}

fn wait_for_changes(rx: &mpsc::Receiver<Msg>, on_change: &OnPlanChange) {
    while let Ok(Msg::Changed) = rx.recv() {
        // Let the editor finish: its writes and the rename come together.
        loop {
            match rx.recv_timeout(QUIET) {
                Ok(Msg::Changed) => {}
                Ok(Msg::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
                Err(mpsc::RecvTimeoutError::Timeout) => break,
            }
        }
        on_change();
    }
}

impl Drop for PlanWatch {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
