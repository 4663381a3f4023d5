//! Ports per slice (`[worktree] ports = ["web", "db"]`): one free TCP port
//! per name and slice, found by binding it, kept in the slice's record so
//! it stays the same across restarts, never held by two slices, and
//! released when the slice is cleaned. Each starts its search at a place
//! of its own (from the slice's and the port's names), so slices made in
//! any order mostly get the same ports.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, TcpListener};

use super::Workspace;
use crate::domain::{Event, SliceName};
use crate::store::{Entry, State, StateStore, load_state};

/// Where ports are looked for: below Linux's ephemeral range (32768 and
/// up), where the kernel hands out ports of its own to outgoing
/// connections.
const FIRST: u16 = 20_000;
const SPAN: u16 = 12_000;

/// The variable a port is exported as: `SLICEBOARD_PORT_WEB`.
pub fn port_variable(name: &str) -> String {
    format!("SLICEBOARD_PORT_{}", name.to_ascii_uppercase())
}

/// Whether nothing listens on `port`, on loopback or on every address.
fn free(port: u16) -> bool {
    [Ipv4Addr::LOCALHOST, Ipv4Addr::UNSPECIFIED]
        .into_iter()
        .all(|address| TcpListener::bind((address, port)).is_ok())
}

/// A start for the search that depends only on the two names (FNV-1a).
fn start(slice: &SliceName, name: &str) -> u16 {
    let hash = slice
        .as_str()
        .bytes()
        .chain([0])
        .chain(name.bytes())
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    FIRST + u16::try_from(hash % u64::from(SPAN)).unwrap_or(0)
}

/// Gives `slice`'s record a port for each of `names` it lacks, one no
/// other slice holds and nothing listens on, and drops ports of names the
/// plan no longer has. The journal's entry when the record changed; a
/// slice without a record gets none.
pub fn fill(names: &[String], slice: &SliceName, state: &mut State) -> Option<Entry> {
    changed(names, slice, state).then(|| {
        Entry::sliceboard(Event::PortsReserved {
            slice: slice.clone(),
            ports: state
                .slices
                .get(slice)
                .map(|r| r.ports.clone())
                .unwrap_or_default(),
        })
    })
}

fn changed(names: &[String], slice: &SliceName, state: &mut State) -> bool {
    let taken: Vec<u16> = state
        .slices
        .iter()
        .filter(|(other, _)| *other != slice)
        .flat_map(|(_, r)| r.ports.values().copied())
        .collect();
    let Some(record) = state.slices.get_mut(slice) else {
        return false;
    };
    let before = record.ports.clone();
    record.ports.retain(|name, _| names.contains(name));
    for name in names {
        if record.ports.contains_key(name) {
            continue;
        }
        let first = start(slice, name);
        let found = (0..SPAN)
            .map(|step| FIRST + (first - FIRST + step) % SPAN)
            .find(|port| {
                !taken.contains(port) && !record.ports.values().any(|p| p == port) && free(*port)
            });
        match found {
            Some(port) => {
                record.ports.insert(name.clone(), port);
            }
            None => tracing::warn!(%slice, name, "no free port left for the slice"),
        }
    }
    record.ports != before
}

impl Workspace {
    /// Reserves the plan's ports for `slice` through `state`, and
    /// returns them.
    /// What it journaled goes into `reported`.
    pub fn reserve_ports(
        &self,
        state: &StateStore,
        slice: &SliceName,
        reported: &mut Vec<Event>,
    ) -> Result<BTreeMap<String, u16>, super::WorkspaceError> {
        if !self.plan.ports.is_empty() {
            let names = self.plan.ports.clone();
            let events = state.update(|state| fill(&names, slice, state).into_iter().collect())?;
            reported.extend(events);
        }
        Ok(state.read(|state| {
            state
                .slices
                .get(slice)
                .map(|r| r.ports.clone())
                .unwrap_or_default()
        }))
    }

    /// The ports `state.json` holds for `slice` (none when it cannot be
    /// read).
    pub fn ports_of(&self, slice: &SliceName) -> BTreeMap<String, u16> {
        if self.plan.ports.is_empty() {
            return BTreeMap::new();
        }
        load_state(&self.state_dir.state_file())
            .ok()
            .and_then(|state| state.slices.get(slice).map(|r| r.ports.clone()))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_held_elsewhere_is_never_given_again() {
        let slice = SliceName::parse("a").unwrap();
        let first = start(&slice, "web");
        // Something listens where the search starts.
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, first));
        let mut state = State::default();
        let record: crate::store::SliceRecord = serde_json::from_value(serde_json::json!({
            "lifecycle": "ready", "branch": "slice/a", "worktree": "/w/a",
            "worktree_name": "a", "created_by_sliceboard": true, "base_commit": "0",
            "last_seen_tip": null, "updated_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap();
        state.slices.insert(slice.clone(), record.clone());
        let other = SliceName::parse("b").unwrap();
        let mut held = record;
        held.ports.insert("web".into(), first + 1);
        state.slices.insert(other, held);
        assert!(fill(&["web".into(), "db".into()], &slice, &mut state).is_some());
        let ports = &state.slices[&slice].ports;
        let web = ports["web"];
        if listener.is_ok() {
            assert_ne!(web, first, "taken by a listener");
        }
        assert_ne!(web, first + 1, "held by b");
        assert_ne!(ports["db"], web);
        // Kept as it is the next time; a name the plan dropped goes.
        assert!(fill(&["web".into(), "db".into()], &slice, &mut state).is_none());
        assert!(fill(&["web".into()], &slice, &mut state).is_some());
        assert_eq!(
            state.slices[&slice].ports.keys().collect::<Vec<_>>(),
            ["web"]
        );
        assert_eq!(state.slices[&slice].ports["web"], web);
    }
}
