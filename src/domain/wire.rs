//! The supervisor's protocol: what clients and the supervisor say to each
//! other over its socket (or over `ssh HOST sliceboard proxy`).
//!
//! Every message is one frame: a 4-byte big-endian length, then that many
//! bytes of JSON (framing lives in `link`). A client opens with
//! [`ClientMsg::Hello`]; the supervisor answers [`ServerMsg::Welcome`]
//! (with the board, for a dashboard) or [`ServerMsg::Refused`] naming both
//! protocol versions. Then the client sends requests (each with an id the
//! reply carries) and, if it is a dashboard, which panes it shows; the
//! supervisor sends replies, board updates and pane frames.

use serde::{Deserialize, Serialize};

use super::board::{Board, BoardUpdate};
use super::calls::Call;
use super::command::Command;
use super::pane::{PaneFrame, PaneWant};
use super::slice::SliceName;

/// Bumped whenever a message changes shape (2: the merge queue on the
/// board and its commands; 3: activity sources, `unknown`, signal origins;
/// 4: a pane's mouse tracking mode, click/drag/motion, in its input
/// modes; 5: agent groups left running by an earlier supervisor; 6:
/// competing variants, `Command::Pick`, retired slices; 7: the plan
/// changing live, `BoardUpdate::Plan`, a removed slice and the plan's
/// problem on the board; 10: `Command::StatusReport`, speculative notes
/// and data diffs on the queue, the board's walkthrough; 12: heartbeats
/// only for a client whose hello asks for them). No negotiation:
/// a client of another version is refused with both numbers.
pub const PROTOCOL_VERSION: u32 = 12;

/// Who is connecting, which decides what the supervisor sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientKind {
    /// Gets the board, its updates and the frames of the panes it shows.
    Dashboard,
    /// Sends requests and reads their replies (`up`, `down`, `stop`…).
    Cli,
    /// An agent's hook: one `signal` request, answered at once.
    Signal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "msg", rename_all = "snake_case")]
pub enum ClientMsg {
    Hello {
        protocol: u32,
        kind: ClientKind,
        /// The client's sliceboard version, for messages.
        version: String,
        /// A dashboard over ssh asks for a [`ServerMsg::Heartbeat`] every
        /// [`HEARTBEAT`], so a link that stalls shows as stalled; over the
        /// local socket a supervisor that goes closes it, and nothing is
        /// sent when nothing happens.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        heartbeat: bool,
    },
    /// A command; answered by a [`ServerMsg::Reply`] with the same id.
    /// Clients use id 0 for requests whose answer they ignore (a pane's
    /// resize); it is answered all the same.
    Request { id: u64, command: Command },
    /// The panes this dashboard shows now (replaces the last list).
    View { panes: Vec<PaneWant> },
    /// Searches a slice's scrollback; answered by [`ServerMsg::Found`].
    Search {
        id: u64,
        slice: SliceName,
        query: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "msg", rename_all = "snake_case")]
pub enum ServerMsg {
    Welcome {
        protocol: u32,
        version: String,
        /// The supervisor's pid.
        pid: u32,
        /// The whole board, for a dashboard; `None` for other clients.
        board: Option<Board>,
    },
    /// The connection is refused or closed; `message` says why and what to do.
    Refused {
        message: String,
    },
    /// The answer to a request: `Ok` with what was done, `Err` with why not.
    Reply {
        id: u64,
        result: Result<String, String>,
    },
    Update {
        update: BoardUpdate,
    },
    /// The board again, whole: after the client fell behind and updates
    /// were dropped for it.
    Resync {
        board: Board,
    },
    Pane {
        frame: PaneFrame,
    },
    /// sliceboard calls the operator: ring the host terminal's bell
    /// (`bell`) and send a desktop notification (`desktop`), as the plan's
    /// `[notify]` says.
    Call {
        call: Call,
        bell: bool,
        desktop: bool,
    },
    /// Search hits, newest first, as scroll offsets that bring each to the
    /// top of the pane.
    Found {
        id: u64,
        slice: SliceName,
        hits: Vec<usize>,
    },
    /// The supervisor is ending and closes the connection after this:
    /// `reason` says why (stopped by whom). A connection that closes
    /// without it was lost, and the supervisor may still run.
    Goodbye {
        reason: String,
    },
    /// Sent every [`HEARTBEAT`] whatever else happens to a dashboard that
    /// asked for it (over ssh), so a link that stalls shows as stalled.
    Heartbeat,
}

/// How often a dashboard hears from its supervisor at least.
pub const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(2);

/// The message for a client whose protocol differs from the supervisor's.
pub fn version_mismatch(pid: u32, supervisor: u32, client: u64, client_version: &str) -> String {
    format!(
        "this supervisor (pid {pid}) speaks protocol {supervisor} (sliceboard {}), the client speaks protocol {client} (sliceboard {client_version}); `sliceboard stop` stops it (its agents get SIGTERM), then start again with one version",
        env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_and_reply_shapes_are_stable() {
        let hello = ClientMsg::Hello {
            protocol: 1,
            kind: ClientKind::Signal,
            version: "0.1.0".into(),
            heartbeat: false,
        };
        assert_eq!(
            serde_json::to_string(&hello).unwrap(),
            r#"{"msg":"hello","protocol":1,"kind":"signal","version":"0.1.0"}"#
        );
        let reply = ServerMsg::Reply {
            id: 7,
            result: Err("no".into()),
        };
        let json = serde_json::to_string(&reply).unwrap();
        assert_eq!(json, r#"{"msg":"reply","id":7,"result":{"Err":"no"}}"#);
        assert_eq!(serde_json::from_str::<ServerMsg>(&json).unwrap(), reply);
    }
}
