//! The `after` graph: which slices must merge before which.
//!
//! Finds cycles (so the plan can print one), gives the order in which
//! slices may merge, and says which of a slice's `after` slices are still
//! in its way. Works on names only; it assumes every `after` entry
//! names a slice of the plan (the plan file checks that first).

use std::collections::{BTreeMap, BTreeSet};

use super::slice::SliceName;

/// `(slice, after)` pairs in plan order.
pub type AfterGraph<'a> = [(&'a SliceName, &'a [SliceName])];

/// One cycle, as the path that closes it: `[a, b, c, a]`.
pub fn find_cycle(graph: &AfterGraph<'_>) -> Option<Vec<SliceName>> {
    let edges: BTreeMap<&SliceName, &[SliceName]> = graph.iter().copied().collect();
    let mut done = BTreeSet::new();
    for (start, _) in graph {
        let mut path: Vec<&SliceName> = Vec::new();
        if let Some(cycle) = visit(start, &edges, &mut path, &mut done) {
            return Some(cycle);
        }
    }
    None
}

fn visit<'a>(
    node: &'a SliceName,
    edges: &BTreeMap<&'a SliceName, &'a [SliceName]>,
    path: &mut Vec<&'a SliceName>,
    done: &mut BTreeSet<&'a SliceName>,
) -> Option<Vec<SliceName>> {
    if let Some(at) = path.iter().position(|n| *n == node) {
        let mut cycle: Vec<SliceName> = path[at..].iter().map(|n| (*n).clone()).collect();
        cycle.push(node.clone());
        return Some(cycle);
    }
    if done.contains(node) {
        return None;
    }
    path.push(node);
    for next in edges.get(node).copied().unwrap_or_default() {
        if let Some(cycle) = visit(next, edges, path, done) {
            return Some(cycle);
        }
    }
    path.pop();
    done.insert(node);
    None
}

/// The order slices may merge in: every slice after the ones it names,
/// otherwise plan order. Assumes no cycle.
pub fn merge_order(graph: &AfterGraph<'_>) -> Vec<SliceName> {
    let mut placed: BTreeSet<&SliceName> = BTreeSet::new();
    let mut order = Vec::with_capacity(graph.len());
    while order.len() < graph.len() {
        let next = graph.iter().find(|(name, after)| {
            !placed.contains(name) && after.iter().all(|dep| placed.contains(dep))
        });
        match next {
            Some((name, _)) => {
                placed.insert(name);
                order.push((*name).clone());
            }
            // A cycle: place the rest in plan order rather than loop forever.
            None => {
                for (name, _) in graph {
                    if placed.insert(name) {
                        order.push((*name).clone());
                    }
                }
            }
        }
    }
    order
}

/// The slices of `after` still in the way of a slice that comes after
/// them, in the plan's order: those `clears_the_way` does not clear
/// (merged, or a variant retired for another). The one rule for whether a
/// slice may merge yet: the queue's board and a merge attempt both ask it.
pub fn in_the_way(
    after: &[SliceName],
    clears_the_way: impl Fn(&SliceName) -> bool,
) -> Vec<&SliceName> {
    after.iter().filter(|dep| !clears_the_way(dep)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(raw: &[&str]) -> Vec<SliceName> {
        raw.iter().map(|n| SliceName::parse(n).unwrap()).collect()
    }

    #[test]
    fn finds_the_cycle_path() {
        let [a, b, c] = <[SliceName; 3]>::try_from(names(&["a", "b", "c"])).unwrap();
        let (after_a, after_b, after_c) = (names(&["c"]), names(&["a"]), names(&["b"]));
        let graph = [(&a, &after_a[..]), (&b, &after_b[..]), (&c, &after_c[..])];
        assert_eq!(find_cycle(&graph), Some(names(&["a", "c", "b", "a"])));
    }

    #[test]
    fn self_reference_is_a_cycle() {
        let a = SliceName::parse("a").unwrap();
        let after = names(&["a"]);
        assert_eq!(find_cycle(&[(&a, &after[..])]), Some(names(&["a", "a"])));
    }

    #[test]
    fn merge_order_respects_after_then_plan_order() {
        let all = names(&["marts", "staging", "seeds", "docs"]);
        let marts_after = names(&["staging"]);
        let staging_after = names(&["seeds"]);
        let graph = [
            (&all[0], &marts_after[..]),
            (&all[1], &staging_after[..]),
            (&all[2], &[][..]),
            (&all[3], &[][..]),
        ];
        assert_eq!(find_cycle(&graph), None);
        assert_eq!(
            merge_order(&graph),
            names(&["seeds", "staging", "marts", "docs"])
        );
    }

    #[test]
    fn only_slices_not_cleared_are_in_the_way() {
        let after = names(&["seeds", "staging", "docs"]);
        let cleared = names(&["staging"]);
        let waiting = in_the_way(&after, |dep| cleared.contains(dep));
        assert_eq!(waiting, vec![&after[0], &after[2]]);
        assert!(in_the_way(&after, |_| true).is_empty());
    }
}
