//! The status line's report goes when it stops being true: it expires
//! after [`REPORT_TTL`] (a progress report, ending in `…`, stays until
//! the answer replaces it), and one about the selected slice goes as soon
//! as that slice's agent or lifecycle changes after it settled. The
//! selection moving clears it too (`App::select_slice`).
//!
//! Pure: the loop passes the clock in ([`App::tick`]).

use std::time::{Duration, Instant};

use super::app::App;
use crate::domain::{AgentStatus, Lifecycle, SliceName};

/// How long a report stays on the status line.
pub const REPORT_TTL: Duration = Duration::from_secs(15);
/// What arrives this soon after a report is the command's own doing (the
/// agent pausing after "agent paused"), not a change that makes it false.
const REPORT_SETTLE: Duration = Duration::from_secs(1);

/// When the report on the status line appeared, and the state of the
/// slice it is about once it settled.
#[derive(Debug, Default)]
pub struct ReportAge {
    text: Option<String>,
    since: Option<Instant>,
    about: Option<(SliceName, AgentStatus, Lifecycle)>,
}

impl App {
    /// How long until the status line's report may change by itself (it
    /// settles, or expires); `None` when nothing is shown or it stays.
    pub fn report_due(&self, now: Instant) -> Option<Duration> {
        let text = self.message.as_ref()?;
        let Some(since) = self
            .report
            .since
            .filter(|_| self.report.text.as_ref() == Some(text))
        else {
            return Some(Duration::ZERO);
        };
        let age = now.saturating_duration_since(since);
        if age < REPORT_SETTLE {
            return Some(REPORT_SETTLE - age);
        }
        (!text.ends_with('…')).then(|| REPORT_TTL.saturating_sub(age))
    }

    /// Ages the status line's report; true when it went (redraw).
    pub fn tick(&mut self, now: Instant) -> bool {
        if self.message != self.report.text {
            self.report = ReportAge {
                text: self.message.clone(),
                since: Some(now),
                about: None,
            };
            return false;
        }
        let (Some(text), Some(since)) = (&self.message, self.report.since) else {
            return false;
        };
        let age = now.saturating_duration_since(since);
        if age >= REPORT_TTL && !text.ends_with('…') {
            return self.drop_report();
        }
        if age < REPORT_SETTLE {
            return false;
        }
        // A report about the selected slice ("staging: agent paused").
        let slice = self
            .selected()
            .filter(|row| text.starts_with(row.name.as_str()))
            .map(|row| (row.name.clone(), row.status, row.lifecycle));
        match (&self.report.about, slice) {
            (None, Some(now)) => {
                self.report.about = Some(now);
                false
            }
            (Some(then), now) if now.as_ref() != Some(then) => self.drop_report(),
            _ => false,
        }
    }

    fn drop_report(&mut self) -> bool {
        self.message = None;
        self.report = ReportAge::default();
        true
    }
}
