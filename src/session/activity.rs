//! Whether an agent is busy, waiting for the operator, idle at its prompt,
//! done, or unknown, and where that reading came from.
//!
//! Structured signals come first (`sliceboard signal`, `sliceboard hook`,
//! sent by the agent's own hooks), the terminal bell second, and the
//! screen last: output in the last moments means busy; a quiet screen
//! whose last lines look like a question means waiting; any other quiet
//! screen is unknown, never a guessed "idle". A screen reading is reported
//! only once it has held for a short debounce, so the board does not
//! flicker; a signal is reported at once. Pure logic: time is passed in.

use std::time::{Duration, Instant};

use regex::{Regex, RegexBuilder};

use crate::domain::{Activity, ActivitySource};

/// Prompts of the agents people use, matched case-insensitively against
/// the last lines of a quiet screen.
pub const DEFAULT_WAITING_PATTERNS: &[&str] = &[
    // Claude Code's permission and choice prompts.
    r"do you want to (proceed|make this edit|create|run)",
    r"❯\s*1\.\s*yes",
    // Codex approval prompts.
    r"allow (command|this)\?",
    r"approve\b.*\?",
    // aider's confirmations and generic yes/no questions.
    r"\(y\)es/\(n\)o",
    r"\[y/n\]|\(y/n\)|\[yes/no\]",
    r"press enter to continue",
    r"\?\s*$",
];

#[derive(Debug, Clone)]
pub struct ActivityRules {
    /// Output within this long means busy, whatever the screen says.
    pub busy_for: Duration,
    /// A reading must hold this long before it is reported.
    pub debounce: Duration,
    /// A busy signal followed by this long of silence no longer holds
    /// (the turn ended without a hook, e.g. interrupted or an API error).
    pub busy_signal_quiet: Duration,
    /// How many of the last non-blank lines are searched for a prompt.
    pub tail_lines: usize,
    pub waiting: Vec<Regex>,
}

impl ActivityRules {
    /// Rules with `patterns` (regular expressions, case-insensitive) as the
    /// signs of a waiting prompt.
    pub fn with_patterns<S: AsRef<str>>(patterns: &[S]) -> Result<Self, regex::Error> {
        let waiting = patterns
            .iter()
            .map(|p| RegexBuilder::new(p.as_ref()).case_insensitive(true).build())
            .collect::<Result<_, _>>()?;
        Ok(Self {
            busy_for: Duration::from_millis(1500),
            debounce: Duration::from_millis(300),
            busy_signal_quiet: Duration::from_secs(60),
            tail_lines: 4,
            waiting,
        })
    }
}

impl Default for ActivityRules {
    fn default() -> Self {
        Self::with_patterns(DEFAULT_WAITING_PATTERNS).expect("built-in patterns compile")
    }
}

/// An activity and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    pub activity: Activity,
    pub source: ActivitySource,
}

impl Reading {
    const UNKNOWN: Reading = Reading {
        activity: Activity::Unknown,
        source: ActivitySource::Screen,
    };

    fn screen(activity: Activity) -> Self {
        Self {
            activity,
            source: ActivitySource::Screen,
        }
    }
}

/// Everything the tracker has been told, and what it last reported.
#[derive(Debug)]
pub struct ActivityTracker {
    rules: ActivityRules,
    last_output: Option<Instant>,
    last_input: Option<Instant>,
    bell_at: Option<Instant>,
    signal: Option<(Activity, Instant)>,
    reported: Reading,
    candidate: Option<(Reading, Instant)>,
}

impl ActivityTracker {
    pub fn new(rules: ActivityRules) -> Self {
        Self {
            rules,
            last_output: None,
            last_input: None,
            bell_at: None,
            signal: None,
            reported: Reading::UNKNOWN,
            candidate: None,
        }
    }

    pub fn output(&mut self, now: Instant) {
        self.last_output = Some(now);
    }

    /// When the program last printed, if it has.
    pub fn last_output(&self) -> Option<Instant> {
        self.last_output
    }

    /// The operator typed into the session: a waiting agent got its answer.
    pub fn input(&mut self, now: Instant) {
        self.last_input = Some(now);
    }

    pub fn bell(&mut self, now: Instant) {
        self.bell_at = Some(now);
    }

    /// A structured report from the agent; reported at once.
    pub fn signal(&mut self, activity: Activity, now: Instant) {
        self.signal = Some((activity, now));
        self.reported = Reading {
            activity,
            source: ActivitySource::Signal,
        };
        self.candidate = None;
    }

    pub fn reported(&self) -> Reading {
        self.reported
    }

    /// True when nothing happened for long enough that the reading cannot
    /// change until something does (output, input, a bell, a signal): the
    /// owner may skip [`ActivityTracker::update`] until then.
    pub fn settled(&self, now: Instant) -> bool {
        let latest = [
            self.last_output,
            self.last_input,
            self.bell_at,
            self.signal.map(|(_, at)| at),
        ]
        .into_iter()
        .flatten()
        .max();
        let quiet = self.rules.busy_for + self.rules.debounce * 2;
        let busy_signal_pending = self.signal.is_some_and(|(activity, _)| {
            activity == Activity::Busy
                && latest.is_some_and(|at| {
                    now.duration_since(at) <= self.rules.busy_signal_quiet + quiet
                })
        });
        self.candidate.is_none()
            && !busy_signal_pending
            && latest.is_none_or(|at| now.duration_since(at) > quiet)
    }

    /// What the evidence says right now, before debouncing.
    pub fn reading(&self, now: Instant, screen_tail: &[String]) -> Reading {
        if let Some((activity, at)) = self.signal
            && self.signal_holds(activity, at, now)
        {
            return Reading {
                activity,
                source: ActivitySource::Signal,
            };
        }
        let recent =
            |at: Option<Instant>| at.is_some_and(|t| now.duration_since(t) < self.rules.busy_for);
        if let Some(bell) = self.bell_at {
            let output_after = self
                .last_output
                .is_some_and(|t| t > bell + self.rules.debounce);
            let input_after = self.last_input.is_some_and(|t| t > bell);
            if !output_after && !input_after {
                return Reading {
                    activity: Activity::Waiting,
                    source: ActivitySource::Bell,
                };
            }
        }
        if recent(self.last_output) {
            return Reading::screen(Activity::Busy);
        }
        let tail = &screen_tail[screen_tail.len().saturating_sub(self.rules.tail_lines)..];
        let waiting = tail
            .iter()
            .any(|line| self.rules.waiting.iter().any(|re| re.is_match(line)));
        if waiting {
            Reading::screen(Activity::Waiting)
        } else {
            Reading::UNKNOWN
        }
    }

    /// Whether the agent's last signal still stands. Waiting, idle and done
    /// hold until the operator types into the agent; busy holds until the
    /// agent signals again, unless the operator typed since (an interrupt)
    /// or the screen has been silent for long (a turn that ended without
    /// its hook), and the screen is quiet now.
    fn signal_holds(&self, activity: Activity, at: Instant, now: Instant) -> bool {
        let typed_since = self.last_input.is_some_and(|input| input > at);
        if activity != Activity::Busy {
            return !typed_since;
        }
        let last_sign = self.last_output.map_or(at, |output| output.max(at));
        let quiet_for = now.duration_since(last_sign);
        let quiet_now = quiet_for >= self.rules.busy_for;
        !(quiet_now && (typed_since || quiet_for >= self.rules.busy_signal_quiet))
    }

    /// Re-reads the evidence; returns the new reading when the reported
    /// one changes (after the debounce).
    pub fn update(&mut self, now: Instant, screen_tail: &[String]) -> Option<Reading> {
        // A signal that stopped holding is gone for good: later output is
        // the screen's to read, never the old hook's word brought back.
        if let Some((activity, at)) = self.signal
            && !self.signal_holds(activity, at, now)
        {
            self.signal = None;
        }
        let reading = self.reading(now, screen_tail);
        if reading == self.reported {
            self.candidate = None;
            return None;
        }
        match self.candidate {
            Some((candidate, since)) if candidate == reading => {
                if now.duration_since(since) >= self.rules.debounce {
                    self.reported = reading;
                    self.candidate = None;
                    return Some(reading);
                }
            }
            _ => self.candidate = Some((reading, now)),
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    /// Feeds `update` every 50 ms for `ms` and returns the last report.
    fn settle(t: &mut ActivityTracker, start: Instant, ms: u64, tail: &[String]) -> Activity {
        for step in 0..=ms / 50 {
            t.update(start + Duration::from_millis(step * 50), tail);
        }
        t.reported().activity
    }

    #[test]
    fn settles_only_once_the_reading_can_no_longer_change() {
        let mut t = ActivityTracker::new(ActivityRules::default());
        let start = Instant::now();
        assert!(t.settled(start));
        t.output(start);
        assert!(!t.settled(start + Duration::from_millis(500)));
        let tail = lines("$");
        assert_eq!(settle(&mut t, start, 3_000, &tail), Activity::Unknown);
        assert!(t.settled(start + Duration::from_millis(3_000)));
        t.bell(start + Duration::from_millis(3_100));
        assert!(!t.settled(start + Duration::from_millis(3_200)));
    }

    #[test]
    fn a_steady_stream_of_log_lines_is_busy() {
        let mut t = ActivityTracker::new(ActivityRules::default());
        let start = Instant::now();
        let tail = lines("INFO compiling model 12\nINFO compiling model 13");
        for step in 0..40 {
            let now = start + Duration::from_millis(step * 50);
            t.output(now);
            t.update(now, &tail);
        }
        assert_eq!(t.reported(), Reading::screen(Activity::Busy));
    }

    #[test]
    fn a_quiet_question_is_waiting_and_a_quiet_shell_is_unknown() {
        let start = Instant::now();
        let mut t = ActivityTracker::new(ActivityRules::default());
        t.output(start);
        let asked = lines("Edited 3 files\nDo you want to proceed?\n❯ 1. Yes\n  2. No");
        assert_eq!(settle(&mut t, start, 3000, &asked), Activity::Waiting);

        let mut t = ActivityTracker::new(ActivityRules::default());
        t.output(start);
        t.update(start, &[]);
        let quiet = lines("$ ls\nREADME.md\n$");
        assert_eq!(settle(&mut t, start, 3000, &quiet), Activity::Unknown);
        assert_eq!(t.reported().source, ActivitySource::Screen);
    }

    #[test]
    fn signals_win_until_the_operator_answers() {
        let start = Instant::now();
        let mut t = ActivityTracker::new(ActivityRules::default());
        t.signal(Activity::Waiting, start);
        assert_eq!(
            t.reported(),
            Reading {
                activity: Activity::Waiting,
                source: ActivitySource::Signal
            }
        );
        // Output (a spinner, say) does not override the agent's own word.
        t.output(start + Duration::from_millis(100));
        assert_eq!(settle(&mut t, start, 1000, &[]), Activity::Waiting);
        // The operator answers and output flows: busy again.
        let later = start + Duration::from_millis(1100);
        t.input(later);
        t.output(later);
        assert_eq!(settle(&mut t, later, 400, &[]), Activity::Busy);
        assert_eq!(t.reported().source, ActivitySource::Screen);
    }

    #[test]
    fn a_busy_signal_holds_until_the_turn_visibly_ends() {
        let start = Instant::now();
        let mut t = ActivityTracker::new(ActivityRules::default());
        t.signal(Activity::Busy, start);
        // A silent tool run: still busy on the agent's word.
        assert_eq!(settle(&mut t, start, 20_000, &[]), Activity::Busy);
        assert!(!t.settled(start + Duration::from_secs(20)));
        // A minute of silence: the turn ended without its hook.
        let quiet = lines("❯");
        let later = start + Duration::from_secs(61);
        assert_eq!(settle(&mut t, later, 400, &quiet), Activity::Unknown);

        // The operator interrupts (Esc) and the spinner stops.
        let mut t = ActivityTracker::new(ActivityRules::default());
        t.signal(Activity::Busy, start);
        t.output(start + Duration::from_millis(500));
        t.input(start + Duration::from_millis(600));
        assert_eq!(settle(&mut t, start, 1_000, &quiet), Activity::Busy);
        let later = start + Duration::from_millis(2_200);
        assert_eq!(settle(&mut t, later, 400, &quiet), Activity::Unknown);
        // The pane prints again (a redraw, the operator's next message):
        // busy from the screen, never the interrupted turn's hook again.
        let again = start + Duration::from_millis(3_000);
        t.output(again);
        assert_eq!(settle(&mut t, again, 400, &quiet), Activity::Busy);
        assert_eq!(t.reported().source, ActivitySource::Screen);
    }

    #[test]
    fn the_bell_means_waiting_until_output_resumes() {
        let start = Instant::now();
        let mut t = ActivityTracker::new(ActivityRules::default());
        t.output(start);
        t.bell(start);
        assert_eq!(settle(&mut t, start, 400, &[]), Activity::Waiting);
        assert_eq!(t.reported().source, ActivitySource::Bell);
        let later = start + Duration::from_secs(2);
        t.output(later);
        assert_eq!(settle(&mut t, later, 400, &[]), Activity::Busy);
    }

    #[test]
    fn a_blip_shorter_than_the_debounce_is_not_reported() {
        let start = Instant::now();
        let mut t = ActivityTracker::new(ActivityRules::default());
        t.update(start, &[]);
        assert_eq!(t.reported(), Reading::UNKNOWN);
        // One line of output, then the screen is read again 100 ms later.
        t.output(start);
        assert_eq!(t.update(start + Duration::from_millis(100), &[]), None);
        assert_eq!(t.reported(), Reading::UNKNOWN);
    }
}
