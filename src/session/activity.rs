//! Whether an agent is busy, waiting for the operator, or idle.
//!
//! Structured signals come first (`sliceboard signal`, sent by the agent's
//! own hooks), the terminal bell second, and the screen last: output in the
//! last moments means busy; a quiet screen whose last lines look like a
//! question means waiting; a quiet screen otherwise means idle. A new
//! reading is reported only once it has held for a short debounce, so the
//! board does not flicker. Pure logic: time is passed in.

use std::time::{Duration, Instant};

use regex::{Regex, RegexBuilder};

use crate::domain::Activity;

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

/// Everything the tracker has been told, and what it last reported.
#[derive(Debug)]
pub struct ActivityTracker {
    rules: ActivityRules,
    last_output: Option<Instant>,
    last_input: Option<Instant>,
    bell_at: Option<Instant>,
    signal: Option<(Activity, Instant)>,
    reported: Activity,
    candidate: Option<(Activity, Instant)>,
}

impl ActivityTracker {
    pub fn new(rules: ActivityRules) -> Self {
        Self {
            rules,
            last_output: None,
            last_input: None,
            bell_at: None,
            signal: None,
            reported: Activity::Idle,
            candidate: None,
        }
    }

    pub fn output(&mut self, now: Instant) {
        self.last_output = Some(now);
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
        self.reported = activity;
        self.candidate = None;
    }

    pub fn reported(&self) -> Activity {
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
        self.candidate.is_none() && latest.is_none_or(|at| now.duration_since(at) > quiet)
    }

    /// What the evidence says right now, before debouncing.
    pub fn reading(&self, now: Instant, screen_tail: &[String]) -> Activity {
        if let Some((activity, at)) = self.signal {
            // A signal holds until the operator answers (for waiting, idle
            // or done) or the agent signals again.
            let answered = self.last_input.is_some_and(|input| input > at);
            if activity == Activity::Busy || !answered {
                return activity;
            }
        }
        let recent =
            |at: Option<Instant>| at.is_some_and(|t| now.duration_since(t) < self.rules.busy_for);
        if let Some(bell) = self.bell_at {
            let output_after = self
                .last_output
                .is_some_and(|t| t > bell + self.rules.debounce);
            let input_after = self.last_input.is_some_and(|t| t > bell);
            if !output_after && !input_after {
                return Activity::Waiting;
            }
        }
        if recent(self.last_output) {
            return Activity::Busy;
        }
        let tail = &screen_tail[screen_tail.len().saturating_sub(self.rules.tail_lines)..];
        let waiting = tail
            .iter()
            .any(|line| self.rules.waiting.iter().any(|re| re.is_match(line)));
        if waiting {
            Activity::Waiting
        } else {
            Activity::Idle
        }
    }

    /// Re-reads the evidence; returns the new activity when the reported
    /// one changes (after the debounce).
    pub fn update(&mut self, now: Instant, screen_tail: &[String]) -> Option<Activity> {
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
        t.reported()
    }

    #[test]
    fn settles_only_once_the_reading_can_no_longer_change() {
        let mut t = ActivityTracker::new(ActivityRules::default());
        let start = Instant::now();
        assert!(t.settled(start));
        t.output(start);
        assert!(!t.settled(start + Duration::from_millis(500)));
        let tail = lines("$");
        assert_eq!(settle(&mut t, start, 3_000, &tail), Activity::Idle);
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
        assert_eq!(t.reported(), Activity::Busy);
    }

    #[test]
    fn a_quiet_question_is_waiting_and_a_quiet_shell_is_idle() {
        let start = Instant::now();
        let mut t = ActivityTracker::new(ActivityRules::default());
        t.output(start);
        let asked = lines("Edited 3 files\nDo you want to proceed?\n❯ 1. Yes\n  2. No");
        assert_eq!(settle(&mut t, start, 3000, &asked), Activity::Waiting);

        let mut t = ActivityTracker::new(ActivityRules::default());
        t.output(start);
        t.update(start, &[]);
        let quiet = lines("$ ls\nREADME.md\n$");
        assert_eq!(settle(&mut t, start, 3000, &quiet), Activity::Idle);
    }

    #[test]
    fn signals_win_until_the_operator_answers() {
        let start = Instant::now();
        let mut t = ActivityTracker::new(ActivityRules::default());
        t.signal(Activity::Waiting, start);
        assert_eq!(t.reported(), Activity::Waiting);
        // Output (a spinner, say) does not override the agent's own word.
        t.output(start + Duration::from_millis(100));
        assert_eq!(settle(&mut t, start, 1000, &[]), Activity::Waiting);
        // The operator answers and output flows: busy again.
        let later = start + Duration::from_millis(1100);
        t.input(later);
        t.output(later);
        assert_eq!(settle(&mut t, later, 400, &[]), Activity::Busy);
    }

    #[test]
    fn the_bell_means_waiting_until_output_resumes() {
        let start = Instant::now();
        let mut t = ActivityTracker::new(ActivityRules::default());
        t.output(start);
        t.bell(start);
        assert_eq!(settle(&mut t, start, 400, &[]), Activity::Waiting);
        let later = start + Duration::from_secs(2);
        t.output(later);
        assert_eq!(settle(&mut t, later, 400, &[]), Activity::Busy);
    }

    #[test]
    fn a_blip_shorter_than_the_debounce_is_not_reported() {
        let start = Instant::now();
        let mut t = ActivityTracker::new(ActivityRules::default());
        t.update(start, &[]);
        assert_eq!(t.reported(), Activity::Idle);
        // One line of output, then the screen is read again 100 ms later.
        t.output(start);
        assert_eq!(t.update(start + Duration::from_millis(100), &[]), None);
        assert_eq!(t.reported(), Activity::Idle);
    }
}
