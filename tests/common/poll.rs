//! Waiting in tests: every wait polls until a deadline and fails the test
//! saying what never happened. Nothing sleeps a fixed time to let
//! something happen: a test waits for the thing itself.

use std::fmt::Display;
use std::time::{Duration, Instant};

/// How long anything may take before a test gives up on it.
pub const WAIT: Duration = Duration::from_secs(20);

/// The first pause between two polls; each pause doubles, up to
/// [`LONGEST_PAUSE`], so a quick change is seen at once and a slow one
/// costs few polls.
const FIRST_PAUSE: Duration = Duration::from_millis(5);
const LONGEST_PAUSE: Duration = Duration::from_millis(50);

/// A moment by which something must have happened, for waits that block
/// on something of their own (a channel, a step of an event loop) rather
/// than poll.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Instant,
    timeout: Duration,
}

impl Deadline {
    pub fn after(timeout: Duration) -> Self {
        Self {
            at: Instant::now() + timeout,
            timeout,
        }
    }

    /// The time left; zero once the deadline has passed.
    pub fn left(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    pub fn passed(&self) -> bool {
        Instant::now() >= self.at
    }

    /// Fails the test, naming `what`, once the deadline has passed.
    pub fn check(&self, what: impl Display) {
        if self.passed() {
            panic!("never: {what} (within {:?})", self.timeout);
        }
    }
}

/// Polls `done` until it holds or `timeout` has passed; whether it held.
/// For a wait whose end is no failure (a clean-up that escalates).
pub fn poll_within(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Deadline::after(timeout);
    let mut pause = FIRST_PAUSE;
    loop {
        if done() {
            return true;
        }
        if deadline.passed() {
            return false;
        }
        std::thread::sleep(pause.min(deadline.left()));
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

/// Polls `done` until it holds; fails the test naming `what` once
/// `timeout` has passed.
pub fn poll_until(what: impl Display, timeout: Duration, done: impl FnMut() -> bool) {
    if !poll_within(timeout, done) {
        panic!("never: {what} (within {timeout:?})");
    }
}

/// Polls `found` until it gives a value; fails the test naming `what`
/// once `timeout` has passed.
pub fn poll_some<T>(
    what: impl Display,
    timeout: Duration,
    mut found: impl FnMut() -> Option<T>,
) -> T {
    let mut value = None;
    poll_until(what, timeout, || {
        value = found();
        value.is_some()
    });
    value.expect("poll_until returned: the value was found")
}

/// Polls `attempt` until it gives `Ok`; once `timeout` has passed fails
/// the test naming `what` and what the last attempt saw instead (its
/// `Err`), e.g. the screen or the queue at the time.
pub fn poll_ok<T, E: Display>(
    what: impl Display,
    timeout: Duration,
    mut attempt: impl FnMut() -> Result<T, E>,
) -> T {
    let mut last = None;
    let mut value = None;
    let done = poll_within(timeout, || match attempt() {
        Ok(found) => {
            value = Some(found);
            true
        }
        Err(seen) => {
            last = Some(seen);
            false
        }
    });
    match value {
        Some(value) if done => value,
        _ => {
            let seen = last.map(|s| s.to_string()).unwrap_or_default();
            panic!("never: {what} (within {timeout:?}); last seen:\n{seen}")
        }
    }
}
