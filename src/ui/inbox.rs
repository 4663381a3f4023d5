//! The dashboard's threads and the one inbox they feed: the terminal's
//! input, the supervisor's messages, the signals that end a dashboard, and
//! the writer that sends to the supervisor so a supervisor that reads
//! slowly never holds up drawing.
//!
//! Owns those threads and the [`Msg`]s they send; it never touches the
//! model or the terminal's modes (the loop in `ui::dashboard` does).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use anyhow::Context as _;
use crossterm::event::Event as TermEvent;

use crate::domain::wire::{ClientMsg, ServerMsg};
use crate::link::{LinkReader, write_frame};

/// What the dashboard's threads tell its loop.
pub enum Msg {
    Input(TermEvent),
    Server(Box<ServerMsg>),
    /// The supervisor said goodbye: it ends, and why.
    Goodbye(String),
    /// The connection ended without a goodbye: how.
    Lost(String),
    InputClosed,
}

/// The loop's end of the threads: their messages, and whether a signal
/// asked the dashboard to end.
pub struct Inbox {
    rx: mpsc::Receiver<Msg>,
    signalled: Arc<AtomicBool>,
    /// Tells the input reader to stop once the loop ends.
    stop_input: Arc<AtomicBool>,
    /// Makes the input reader stand aside while another program (the
    /// operator's editor) reads the terminal.
    gate: InputGate,
}

/// Stands the input reader aside and lets it go on again. The reader
/// waits on the terminal and on a pipe, so it is woken without a timer.
#[derive(Clone)]
pub struct InputGate {
    shared: Arc<(Mutex<GateState>, std::sync::Condvar)>,
    wake: Arc<std::io::PipeWriter>,
}

#[derive(Default)]
struct GateState {
    /// The loop wants the reader aside.
    wanted: bool,
    /// The reader is aside.
    aside: bool,
}

impl InputGate {
    /// Returns once the reader reads nothing more until [`Self::open`].
    pub fn close(&self) {
        use std::io::Write as _;
        let (state, changed) = &*self.shared;
        let mut state = state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.wanted = true;
        let _ = (&*self.wake).write_all(b"x");
        while !state.aside {
            let (next, timeout) = changed
                .wait_timeout(state, Duration::from_secs(2))
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            state = next;
            // A reader that is gone (the terminal closed) stands aside.
            if timeout.timed_out() {
                break;
            }
        }
    }

    pub fn open(&self) {
        let (state, changed) = &*self.shared;
        state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .wanted = false;
        changed.notify_all();
    }

    /// The reader's side: stands aside while the loop wants it to.
    fn stand_aside_if_asked(&self) {
        let (state, changed) = &*self.shared;
        let mut state = state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !state.wanted {
            return;
        }
        state.aside = true;
        changed.notify_all();
        while state.wanted {
            state = changed
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        state.aside = false;
    }
}

type Sender = Arc<Mutex<mpsc::Sender<Msg>>>;

fn send(tx: &Mutex<mpsc::Sender<Msg>>, msg: Msg) {
    let _ = tx
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .send(msg);
}

impl Inbox {
    /// Starts the reader of the supervisor's messages, the input reader
    /// and the signal watcher.
    pub fn start(reader: LinkReader) -> anyhow::Result<Self> {
        let (tx, rx) = mpsc::channel::<Msg>();
        let tx = Arc::new(Mutex::new(tx));
        spawn_reader(reader, tx.clone());
        let stop_input = Arc::new(AtomicBool::new(false));
        let (wake_rx, wake_tx) = std::io::pipe().context("cannot make the input reader's pipe")?;
        let gate = InputGate {
            shared: Arc::default(),
            wake: Arc::new(wake_tx),
        };
        spawn_input_reader(tx.clone(), stop_input.clone(), gate.clone(), wake_rx);
        let signalled = watch_signals(tx)?;
        Ok(Self {
            rx,
            signalled,
            stop_input,
            gate,
        })
    }

    /// What stands the input reader aside.
    pub fn gate(&self) -> InputGate {
        self.gate.clone()
    }

    /// Every message pending once the first comes, waiting at most `wait`
    /// for it: empty when nothing came.
    pub fn drain(&self, wait: Duration) -> Vec<Msg> {
        match self.rx.recv_timeout(wait) {
            Ok(first) => std::iter::once(first).chain(self.rx.try_iter()).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// SIGTERM, SIGHUP, SIGINT or SIGQUIT came.
    pub fn signalled(&self) -> bool {
        self.signalled.load(Ordering::SeqCst)
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        self.stop_input.store(true, Ordering::SeqCst);
    }
}

/// Writes what the loop sends, so a supervisor that reads slowly never
/// holds up drawing.
pub fn spawn_writer(mut writer: Box<dyn std::io::Write + Send>) -> mpsc::Sender<ClientMsg> {
    let (tx, rx) = mpsc::channel::<ClientMsg>();
    std::thread::spawn(move || {
        for message in rx {
            if write_frame(&mut writer, &message).is_err() {
                return;
            }
        }
    });
    tx
}

fn spawn_reader(mut reader: LinkReader, tx: Sender) {
    std::thread::spawn(move || {
        loop {
            match reader.receive() {
                Ok(Some(ServerMsg::Goodbye { reason })) => {
                    send(&tx, Msg::Goodbye(reason));
                    return;
                }
                Ok(Some(message)) => send(&tx, Msg::Server(Box::new(message))),
                Ok(None) => {
                    send(
                        &tx,
                        Msg::Lost("the connection closed without a goodbye".into()),
                    );
                    return;
                }
                Err(err) => {
                    send(&tx, Msg::Lost(err.to_string()));
                    return;
                }
            }
        }
    });
}

/// SIGTERM, SIGHUP, SIGINT and SIGQUIT end the dashboard cleanly (the
/// terminal restored); the agents are the supervisor's and go on.
/// SIGWINCH, the terminal resized, is a resize event.
fn watch_signals(tx: Sender) -> anyhow::Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGWINCH};
    let mut signals =
        signal_hook::iterator::Signals::new([SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGWINCH])
            .context("cannot watch for signals")?;
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    std::thread::spawn(move || {
        for signal in signals.forever() {
            if signal == SIGWINCH {
                if let Ok((cols, rows)) = crossterm::terminal::size() {
                    send(&tx, Msg::Input(crossterm::event::Event::Resize(cols, rows)));
                }
                continue;
            }
            set.store(true, Ordering::SeqCst);
            send(&tx, Msg::InputClosed);
            return;
        }
    });
    Ok(flag)
}

fn spawn_input_reader(
    tx: Sender,
    stop: Arc<AtomicBool>,
    gate: InputGate,
    mut wake: std::io::PipeReader,
) {
    use std::io::Read as _;
    use std::os::fd::{AsFd as _, AsRawFd as _};
    std::thread::spawn(move || {
        let terminal = std::io::stdin().as_raw_fd();
        // Read unbuffered: a byte kept in stdin's buffer would be missed
        // by the wait on the terminal.
        let Ok(mut tty) = std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map(std::fs::File::from)
        else {
            send(&tx, Msg::InputClosed);
            return;
        };
        let mut input = super::tty_input::TtyInput::default();
        let mut buf = [0u8; 8192];
        // Blocks until input comes or the gate is closed: an idle
        // dashboard wakes for nothing.
        'reading: while !stop.load(Ordering::SeqCst) {
            gate.stand_aside_if_asked();
            // Bytes that start a sequence cut by the end of a read wait
            // a moment for the rest.
            let limit = if input.in_paste() {
                Some(PASTE_WAIT)
            } else {
                input.waiting().then_some(ESC_WAIT)
            };
            let burst = match crate::os::wait_readable_for(terminal, wake.as_raw_fd(), limit) {
                Ok(crate::os::Readable::Woken) => {
                    let _ = wake.read(&mut [0u8; 64]);
                    continue;
                }
                Ok(crate::os::Readable::TimedOut) => input.flush(),
                Ok(crate::os::Readable::Input) => {
                    match tty.read(&mut buf) {
                        Ok(n) if n > 0 => input.feed(&buf[..n]),
                        // Interrupted, or a terminal left non-blocking by
                        // a program it was handed to: wait again.
                        Err(err)
                            if matches!(
                                err.kind(),
                                std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock
                            ) =>
                        {
                            continue;
                        }
                        // The terminal is gone (its end, or EIO on hangup).
                        _ => break 'reading,
                    }
                }
                Err(_) => break,
            };
            for event in burst {
                send(&tx, Msg::Input(event));
            }
        }
        send(&tx, Msg::InputClosed);
    });
}

/// How long a sequence cut by the end of a read waits for the rest of
/// it: terminals write a sequence whole, so only a link that splits
/// writes (ssh under load) ever makes it wait.
const ESC_WAIT: Duration = Duration::from_millis(25);

/// How long a paste whose end marker has not come waits for its next
/// piece: a large paste over a slow link comes in pieces, and what is
/// read as keys once the wait ends (Enter among them) would act.
const PASTE_WAIT: Duration = Duration::from_secs(5);
