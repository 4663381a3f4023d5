//! Slices by the DAG: models ordered by depth, cut into contiguous,
//! balanced runs where the fewest refs cross, each run owning the folders
//! it holds whole and its other files one by one; `after` from the refs.
//!
//! Pure; the grouping by folder is `folders`'s and never used here.

use std::collections::{BTreeMap, BTreeSet};

use super::{Model, Proposal, Proposed, unique_names};

/// Groups `models` by their place in the DAG into about `target` slices:
/// models ordered by depth (a model is one deeper than the deepest model
/// it refs), cut into contiguous, balanced runs, each cut moved, within
/// reach of its balanced place, to where the fewest refs cross (a
/// boundary between depths on a tie). Every ref then
/// points to the same slice or an earlier one, so `after` has no cycle.
/// A slice owns a folder whole (`models/staging/`) when every model under
/// it is the slice's, and its files one by one otherwise.
pub fn by_dag(models: &[Model], root: &str, target: usize) -> Proposal {
    let depth = depths(models);
    let mut ordered: Vec<&Model> = models.iter().collect();
    ordered.sort_by(|a, b| (depth[a.id.as_str()], &a.path).cmp(&(depth[b.id.as_str()], &b.path)));
    let chunks = runs(&ordered, &depth, target);
    let owner: BTreeMap<&str, usize> = chunks
        .iter()
        .enumerate()
        .flat_map(|(i, c)| c.iter().map(move |m| (m.id.as_str(), i)))
        .collect();
    let labels: Vec<String> = chunks.iter().map(|chunk| label(chunk, root)).collect();
    let names = unique_names(&labels);
    let slices = chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let mut after: BTreeSet<usize> = BTreeSet::new();
            for model in chunk {
                for dep in &model.depends_on {
                    if let Some(&j) = owner.get(dep.as_str()).filter(|j| **j != i) {
                        after.insert(j);
                    }
                }
            }
            Proposed {
                name: names[i].clone(),
                owns: owned_globs(chunk, models, root),
                models: chunk.len(),
                after: after.into_iter().map(|j| names[j].clone()).collect(),
            }
        })
        .collect();
    Proposal {
        slices,
        notes: Vec::new(),
    }
}

/// Each model's depth: one more than the deepest model it refs.
fn depths(models: &[Model]) -> BTreeMap<&str, usize> {
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
fn runs<'a>(
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

/// A run's label: the folder most of its models are in (the first folder
/// on a tie).
fn label(chunk: &[&Model], root: &str) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for model in chunk {
        let rest = model.path.strip_prefix(root).unwrap_or(&model.path);
        let folder = rest
            .split('/')
            .next()
            .filter(|_| rest.contains('/'))
            .unwrap_or("models");
        *counts.entry(folder.to_owned()).or_default() += 1;
    }
    counts
        .into_iter()
        // Most models; the first folder on a tie.
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map_or_else(|| "slice".to_owned(), |(f, _)| f)
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

/// The globs for `chunk`'s models: the highest folders whose every model
/// is in the chunk, whole, and the other files one by one.
fn owned_globs(chunk: &[&Model], all: &[Model], root: &str) -> Vec<String> {
    let mine: BTreeSet<&str> = chunk.iter().map(|m| m.path.as_str()).collect();
    let mut globs: Vec<String> = Vec::new();
    let mut covered: BTreeSet<&str> = BTreeSet::new();
    for model in chunk {
        if covered.contains(model.path.as_str()) {
            continue;
        }
        let rest = model.path.strip_prefix(root).unwrap_or(&model.path);
        let parts: Vec<&str> = rest.split('/').collect();
        // Folders from the top down: the first the chunk holds whole.
        let whole = (1..parts.len()).find_map(|n| {
            let folder = format!("{root}{}/", parts[..n].join("/"));
            let inside: Vec<&str> = all
                .iter()
                .map(|m| m.path.as_str())
                .filter(|p| p.starts_with(&folder))
                .collect();
            inside
                .iter()
                .all(|p| mine.contains(p))
                .then_some((folder, inside))
        });
        match whole {
            Some((folder, inside)) => {
                covered.extend(inside);
                globs.push(folder);
            }
            None => {
                covered.insert(model.path.as_str());
                globs.push(model.path.clone());
            }
        }
    }
    globs
}
