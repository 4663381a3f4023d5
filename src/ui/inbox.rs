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
        spawn_input_reader(tx.clone(), stop_input.clone());
        let signalled = watch_signals(tx)?;
        Ok(Self {
            rx,
            signalled,
            stop_input,
        })
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
fn watch_signals(tx: Sender) -> anyhow::Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP, SIGINT, SIGQUIT])
        .context("cannot watch for signals")?;
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            set.store(true, Ordering::SeqCst);
            send(&tx, Msg::InputClosed);
        }
    });
    Ok(flag)
}

fn spawn_input_reader(tx: Sender, stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        // Blocks until input comes: an idle dashboard wakes for nothing.
        while !stop.load(Ordering::SeqCst) {
            match crossterm::event::read() {
                Ok(event) => send(&tx, Msg::Input(event)),
                Err(_) => break,
            }
        }
        send(&tx, Msg::InputClosed);
    });
}
