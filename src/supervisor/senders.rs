//! Every thread's inbox or handle in the supervisor process, named in one
//! place ([`Senders`], like zellij's `ThreadSenders`): whoever needs to
//! reach another service takes it from here, so the wiring reads in one
//! struct rather than in closures built across a function.
//!
//! Owns nothing but the senders; starting and stopping the threads behind
//! them is [`Services`](super::Services)'s.

use std::sync::{Arc, mpsc};

use super::follower::Wake;
use super::hub::Hub;
use crate::agents::AgentsHandle;
use crate::merge_queue::QueueHandle;
use crate::watch::LiveDiffsHandle;

/// What the supervisor process's threads send to each other.
///
/// Holding one keeps the file follower's inbox open (it ends once every
/// sender is gone): anything that outlives [`Services::shutdown`]
/// (the signal thread) takes only the handles it needs.
///
/// [`Services::shutdown`]: super::Services::shutdown
#[derive(Clone)]
pub struct Senders {
    /// The one true board and every client's queue (shared, not a thread).
    pub hub: Arc<Hub>,
    /// The agents, driven on the supervisor's main thread.
    pub agents: AgentsHandle,
    /// The merge queue's thread.
    pub queue: QueueHandle,
    /// The live-diff engine's thread.
    pub diffs: LiveDiffsHandle,
    /// The file follower's thread: dbt files, logs and setup output.
    pub follower: mpsc::Sender<Wake>,
}
