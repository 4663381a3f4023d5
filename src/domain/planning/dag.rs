//! Slices by the DAG: models ordered by depth, cut into contiguous,
//! balanced runs where the fewest refs cross; `finish` makes them slices.
//! The grouping by folder uses `runs` to cut a folder with no subfolders
//! left along the DAG.

use std::collections::{BTreeMap, BTreeSet};

use super::finish::finish;
use super::{Model, Project, Proposal};

/// Groups the project's models by their place in the DAG into about
/// `target` slices: models ordered by depth (a model is one deeper than
/// the deepest model it refs), cut into contiguous, balanced runs, each
/// cut moved, within reach of its balanced place, to where the fewest refs
/// cross (a boundary between depths on a tie). Every ref then points to
/// the same slice or an earlier one, so `after` has no cycle. `root` is
/// the folder the models are under, for names.
pub fn by_dag(project: &Project, root: &str, target: usize) -> Proposal {
    let depth = depths(&project.models);
    let all: Vec<&Model> = project.models.iter().collect();
    let ordered = by_depth(&all, &depth);
    let cuts = runs(&ordered, &depth, target)
        .into_iter()
        .map(|run| run.iter().map(|m| m.id.clone()).collect())
        .collect();
    finish(project, cuts, root, Vec::new())
}

/// `models` in depth order, by path within a depth.
pub(super) fn by_depth<'a>(models: &[&'a Model], depth: &BTreeMap<&str, usize>) -> Vec<&'a Model> {
    let mut ordered = models.to_vec();
    ordered.sort_by(|a, b| (depth[a.id.as_str()], &a.path).cmp(&(depth[b.id.as_str()], &b.path)));
    ordered
}

/// Each model's depth: one more than the deepest model it refs.
pub(super) fn depths(models: &[Model]) -> BTreeMap<&str, usize> {
    let ids: BTreeMap<&str, &Model> = models.iter().map(|m| (m.id.as_str(), m)).collect();
    let mut depth: BTreeMap<&str, usize> = BTreeMap::new();
    for model in models {
        depth_of(&model.id, &ids, &mut depth, &mut BTreeSet::new());
    }
    depth
}

fn depth_of<'a>(
    id: &'a str,
    ids: &BTreeMap<&'a str, &'a Model>,
    depth: &mut BTreeMap<&'a str, usize>,
    seen: &mut BTreeSet<&'a str>,
) -> usize {
    if let Some(d) = depth.get(id) {
        return *d;
    }
    // A cycle (not a valid dbt project) counts as depth 0.
    if !seen.insert(id) {
        return 0;
    }
    let d = ids[id]
        .depends_on
        .iter()
        .filter_map(|dep| ids.get_key_value(dep.as_str()).map(|(k, _)| *k))
        .map(|dep| depth_of(dep, ids, depth, seen) + 1)
        .max()
        .unwrap_or(0);
    depth.insert(id, d);
    d
}

/// `ordered` cut into about `target` contiguous runs: each cut after the
/// last, near its balanced place, where the fewest refs cross, then at a
/// boundary between depths, then nearest.
pub(super) fn runs<'a>(
    ordered: &[&'a Model],
    depth: &BTreeMap<&str, usize>,
    target: usize,
) -> Vec<Vec<&'a Model>> {
    let count = ordered.len();
    let target = target.clamp(1, count.max(1));
    let boundaries: Vec<usize> = (1..count)
        .filter(|i| depth[ordered[*i].id.as_str()] != depth[ordered[i - 1].id.as_str()])
        .collect();
    let slack = count / (2 * target);
    let crossing = crossing_refs(ordered);
    let mut cuts: Vec<usize> = Vec::new();
    for k in 1..target {
        let ideal = k * count / target;
        let last = cuts.last().copied().unwrap_or(0);
        let lowest = ideal.saturating_sub(slack).max(last + 1);
        let highest = (ideal + slack).min(count - 1);
        let best = (lowest..=highest)
            .min_by_key(|&at| (crossing[at], !boundaries.contains(&at), at.abs_diff(ideal)));
        let cut = best.unwrap_or(ideal.max(last + 1));
        if cut < count {
            cuts.push(cut);
        }
    }
    let mut chunks: Vec<Vec<&Model>> = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([count]) {
        if cut > start {
            chunks.push(ordered[start..cut].to_vec());
            start = cut;
        }
    }
    chunks
}

/// For each place `at` in `ordered`, how many refs a cut there would
/// cross: refs from a model at `at` or later to one before it.
fn crossing_refs(ordered: &[&Model]) -> Vec<usize> {
    let place: BTreeMap<&str, usize> = ordered
        .iter()
        .enumerate()
        .map(|(i, m)| (m.id.as_str(), i))
        .collect();
    // +1 where a ref starts to cross, -1 past its model; summed in order.
    let mut delta = vec![0i64; ordered.len() + 1];
    for (at, model) in ordered.iter().enumerate() {
        for dep in &model.depends_on {
            if let Some(&from) = place.get(dep.as_str()).filter(|from| **from < at) {
                delta[from + 1] += 1;
                delta[at + 1] -= 1;
            }
        }
    }
    let mut running = 0i64;
    delta
        .iter()
        .map(|d| {
            running += d;
            running.max(0) as usize
        })
        .collect()
}
