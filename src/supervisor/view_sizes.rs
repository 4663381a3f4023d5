//! Which size each agent's terminal should have, from the dashboards that
//! show it: the size of the latest view that resized it among those still
//! showing it (tmux's `window-size latest`). When a view goes (its
//! dashboard detaches, or stops drawing the pane, as when it leaves the
//! grid), the agent goes back to the latest view left; a resize from a
//! dashboard that does not show the pane (its own size, restored after
//! the grid) applies only while no dashboard shows it.
//!
//! Pure bookkeeping: it says which resizes to make; the socket server
//! makes them.

use std::collections::BTreeMap;

use crate::domain::SliceName;
use crate::session::Size;

#[derive(Debug, Default)]
pub struct ViewSizes {
    /// Orders resizes: the highest is the latest.
    seq: u64,
    /// Per slice, per dashboard that shows it: when and at what size.
    views: BTreeMap<SliceName, BTreeMap<u64, (u64, Size)>>,
}

impl ViewSizes {
    /// Dashboard `client` asks for `slice` at `size`; `shown` when it
    /// draws that pane now. The size to give the agent, if any.
    pub fn resize(
        &mut self,
        client: u64,
        slice: &SliceName,
        size: Size,
        shown: bool,
    ) -> Option<Size> {
        if !shown {
            return self.latest(slice).is_none().then_some(size);
        }
        self.seq += 1;
        self.views
            .entry(slice.clone())
            .or_default()
            .insert(client, (self.seq, size));
        Some(size)
    }

    /// Dashboard `client` now shows only the panes in `shown` (none when
    /// it detached): the resizes that give the panes it stopped showing
    /// back to the latest views left.
    pub fn show_only(&mut self, client: u64, shown: &[SliceName]) -> Vec<(SliceName, Size)> {
        let mut back = Vec::new();
        for (slice, views) in &mut self.views {
            if shown.contains(slice) {
                continue;
            }
            let Some((seq, _)) = views.remove(&client) else {
                continue;
            };
            // Only when the view that goes was the one in force.
            let latest = views.values().max_by_key(|(seq, _)| *seq);
            if let Some((later, size)) = latest
                && *later < seq
            {
                back.push((slice.clone(), *size));
            }
        }
        self.views.retain(|_, views| !views.is_empty());
        back
    }

    fn latest(&self, slice: &SliceName) -> Option<Size> {
        self.views
            .get(slice)?
            .values()
            .max_by_key(|(seq, _)| *seq)
            .map(|(_, size)| *size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(cols: u16) -> Size {
        Size { cols, rows: 20 }
    }

    #[test]
    fn the_latest_view_wins_and_the_one_left_takes_over_when_it_goes() {
        let a = SliceName::parse("a").unwrap();
        let mut sizes = ViewSizes::default();
        assert_eq!(sizes.resize(1, &a, size(86), true), Some(size(86)));
        // Dashboard 2 shows it in a grid cell: the latest wins.
        assert_eq!(sizes.resize(2, &a, size(28), true), Some(size(28)));
        // It leaves the grid: back to dashboard 1's size; its own restore
        // does not override a view that shows the pane.
        assert_eq!(sizes.show_only(2, &[]), vec![(a.clone(), size(86))]);
        assert_eq!(sizes.resize(2, &a, size(120), false), None);
        // Dashboard 1 goes too: nothing shows it; a restore applies.
        assert_eq!(sizes.show_only(1, &[]), vec![]);
        assert_eq!(sizes.resize(2, &a, size(120), false), Some(size(120)));
    }

    #[test]
    fn an_earlier_view_going_changes_nothing() {
        let a = SliceName::parse("a").unwrap();
        let mut sizes = ViewSizes::default();
        sizes.resize(1, &a, size(86), true);
        sizes.resize(2, &a, size(40), true);
        assert_eq!(sizes.show_only(1, std::slice::from_ref(&a)), vec![]);
        assert_eq!(sizes.show_only(1, &[]), vec![]);
        assert_eq!(sizes.latest(&a), Some(size(40)));
    }
}
