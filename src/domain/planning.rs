//! Proposing slices from a dbt project's models (`sliceboard plan
//! --from-dbt`) or any repository's files (`sliceboard plan`, files as
//! models with no refs): by folder (grouped, split or merged to about the
//! number of slices asked for, balanced by model count, a folder with no
//! subfolders left cut into file lists; groups in a ref cycle merged, and
//! the proposal says why) or by the DAG (runs of models by depth, each cut
//! where the fewest refs cross near its balanced place); `after` from the
//! refs between slices. Pure: the command line reads the manifest.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::slice::SliceName;

/// A model as the manifest describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    pub id: String,
    /// Its file, relative to the repository root.
    pub path: String,
    /// The models it refs (other nodes are left out).
    pub depends_on: Vec<String>,
}

/// A proposed slice: the folders it owns whole (`models/staging/`), the
/// single-level folders whose files only it owns (`models/*`), its model
/// count and the slices it comes after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Proposed {
    pub name: SliceName,
    pub owns: Vec<String>,
    pub models: usize,
    pub after: Vec<SliceName>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Proposal {
    pub slices: Vec<Proposed>,
    /// What the proposal had to decide (groups merged to break a cycle).
    pub notes: Vec<String>,
}

/// A group of models: the folder it covers, whole or only its own files,
/// or a part of those files.
#[derive(Debug, Clone)]
struct Group {
    /// Folder path under the models root, components.
    folder: Vec<String>,
    /// True when the group holds only the files directly in `folder`.
    direct: bool,
    /// Set when the group is one part of its folder's files, cut because
    /// the folder had no subfolders left to split by: it owns its files
    /// one by one. The number tells the parts apart (1, 2, …).
    part: Option<usize>,
    models: BTreeSet<String>,
}

impl Group {
    fn globs(&self, root: &str, paths: &BTreeMap<&str, &str>) -> Vec<String> {
        if self.part.is_some() {
            let mut files: Vec<String> = self
                .models
                .iter()
                .map(|id| paths[id.as_str()].to_owned())
                .collect();
            files.sort();
            return files;
        }
        let folder = if self.folder.is_empty() {
            root.trim_end_matches('/').to_owned()
        } else {
            format!("{root}{}", self.folder.join("/"))
        };
        vec![if self.direct {
            format!("{folder}/*")
        } else {
            format!("{folder}/")
        }]
    }

    fn label(&self) -> String {
        let base = if self.folder.is_empty() {
            "models".to_owned()
        } else {
            self.folder.join("-")
        };
        let base = if self.direct && !self.folder.is_empty() {
            format!("{base}-root")
        } else {
            base
        };
        match self.part {
            Some(part) => format!("{base}-{part}"),
            None => base,
        }
    }

    /// Where the group sorts: by folder, then its first file.
    fn first_path<'a>(&self, paths: &BTreeMap<&str, &'a str>) -> &'a str {
        self.models
            .iter()
            .map(|id| paths[id.as_str()])
            .min()
            .unwrap_or("")
    }
}

/// Groups `models` (under `root`, e.g. `models/`) by folder into about
/// `target` slices.
pub fn by_folder(models: &[Model], root: &str, target: usize) -> Proposal {
    let target = target.max(1);
    let paths: BTreeMap<&str, &str> = models
        .iter()
        .map(|m| (m.id.as_str(), m.path.as_str()))
        .collect();
    let folder_of = |path: &str| -> Vec<String> {
        let rest = path.strip_prefix(root).unwrap_or(path);
        let mut parts: Vec<String> = rest.split('/').map(str::to_owned).collect();
        parts.pop();
        parts
    };
    let folders: BTreeMap<&str, Vec<String>> = models
        .iter()
        .map(|m| (m.id.as_str(), folder_of(&m.path)))
        .collect();
    // Level one: the first folder under the root (files in the root
    // itself form their own group).
    let mut groups: Vec<Group> = Vec::new();
    for model in models {
        let folder = &folders[model.id.as_str()];
        let (key, direct) = match folder.first() {
            Some(first) => (vec![first.clone()], false),
            None => (Vec::new(), true),
        };
        match groups
            .iter_mut()
            .find(|g| g.folder == key && g.direct == direct)
        {
            Some(group) => {
                group.models.insert(model.id.clone());
            }
            None => groups.push(Group {
                folder: key,
                direct,
                part: None,
                models: BTreeSet::from([model.id.clone()]),
            }),
        }
    }
    // Too few: split the largest group that has subfolders.
    while groups.len() < target {
        let splittable = groups
            .iter()
            .enumerate()
            .filter(|(_, g)| !g.direct && g.part.is_none())
            .filter(|(_, g)| {
                let depth = g.folder.len();
                let subs: BTreeSet<Option<&String>> = g
                    .models
                    .iter()
                    .map(|id| folders[id.as_str()].get(depth))
                    .collect();
                subs.len() > 1
            })
            .max_by_key(|(_, g)| g.models.len())
            .map(|(i, _)| i);
        let Some(at) = splittable else {
            // No subfolders left: cut the largest group's files.
            let pieces = target - groups.len() + 1;
            if !cut_largest(&mut groups, &paths, pieces) {
                break;
            }
            continue;
        };
        let group = groups.remove(at);
        let depth = group.folder.len();
        let mut parts: BTreeMap<Option<String>, BTreeSet<String>> = BTreeMap::new();
        for id in &group.models {
            parts
                .entry(folders[id.as_str()].get(depth).cloned())
                .or_default()
                .insert(id.clone());
        }
        for (sub, models) in parts {
            let (folder, direct) = match sub {
                Some(sub) => {
                    let mut folder = group.folder.clone();
                    folder.push(sub);
                    (folder, false)
                }
                None => (group.folder.clone(), true),
            };
            groups.push(Group {
                folder,
                direct,
                part: None,
                models,
            });
        }
    }
    groups.sort_by(|a, b| {
        (&a.folder, a.direct, a.first_path(&paths)).cmp(&(
            &b.folder,
            b.direct,
            b.first_path(&paths),
        ))
    });
    number_parts(&mut groups);
    // Slices: groups, the smallest merged while there are too many.
    let mut slices: Vec<Vec<Group>> = groups.into_iter().map(|g| vec![g]).collect();
    let size = |slice: &Vec<Group>| slice.iter().map(|g| g.models.len()).sum::<usize>();
    while slices.len() > target {
        let mut by_size: Vec<usize> = (0..slices.len()).collect();
        by_size.sort_by_key(|i| size(&slices[*i]));
        let (a, b) = (by_size[0].min(by_size[1]), by_size[0].max(by_size[1]));
        let merged = slices.remove(b);
        slices[a].extend(merged);
    }
    let mut notes = Vec::new();
    // `after` from refs between slices; a cycle merges its slices.
    loop {
        let owner: BTreeMap<&str, usize> = slices
            .iter()
            .enumerate()
            .flat_map(|(i, s)| {
                s.iter()
                    .flat_map(move |g| g.models.iter().map(move |m| (m.as_str(), i)))
            })
            .collect();
        let mut edges: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); slices.len()];
        for model in models {
            let Some(&from) = owner.get(model.id.as_str()) else {
                continue;
            };
            for dep in &model.depends_on {
                if let Some(&to) = owner.get(dep.as_str()).filter(|to| **to != from) {
                    edges[from].insert(to);
                }
            }
        }
        match find_cycle(&edges) {
            None => {
                let names = names(&slices);
                let proposed = slices
                    .iter()
                    .enumerate()
                    .map(|(i, groups)| Proposed {
                        name: names[i].clone(),
                        owns: groups.iter().flat_map(|g| g.globs(root, &paths)).collect(),
                        models: size(groups),
                        after: edges[i].iter().map(|j| names[*j].clone()).collect(),
                    })
                    .collect();
                return Proposal {
                    slices: proposed,
                    notes,
                };
            }
            Some(cycle) => {
                let labels: Vec<String> = cycle
                    .iter()
                    .map(|i| {
                        slices[*i]
                            .iter()
                            .map(Group::label)
                            .collect::<Vec<_>>()
                            .join("+")
                    })
                    .collect();
                notes.push(format!(
                    "{} ref each other in a cycle, so they are one slice (no merge order could satisfy them)",
                    labels.join(", ")
                ));
                let mut cycle = cycle;
                cycle.sort_unstable();
                let keep = cycle[0];
                for &i in cycle.iter().skip(1).rev() {
                    let merged = slices.remove(i);
                    slices[keep].extend(merged);
                }
            }
        }
    }
}

/// Cuts the largest group of two models or more into `pieces` balanced
/// parts of its files, in path order (a flat folder of 40 DAG files asked
/// for 4 slices becomes 4 slices of 10 files). False when no group has
/// two models.
fn cut_largest(groups: &mut Vec<Group>, paths: &BTreeMap<&str, &str>, pieces: usize) -> bool {
    let Some(at) = groups
        .iter()
        .enumerate()
        .filter(|(_, g)| g.models.len() >= 2)
        .max_by_key(|(_, g)| g.models.len())
        .map(|(i, _)| i)
    else {
        return false;
    };
    let group = groups.remove(at);
    let mut ids: Vec<&String> = group.models.iter().collect();
    ids.sort_by_key(|id| paths[id.as_str()]);
    let pieces = pieces.clamp(2, ids.len());
    for k in 0..pieces {
        let part = &ids[k * ids.len() / pieces..(k + 1) * ids.len() / pieces];
        groups.push(Group {
            folder: group.folder.clone(),
            direct: group.direct,
            part: Some(0),
            models: part.iter().map(|id| (*id).clone()).collect(),
        });
    }
    true
}

/// Numbers the parts of each folder 1, 2, … in the order they sort.
fn number_parts(groups: &mut [Group]) {
    let mut next: BTreeMap<(Vec<String>, bool), usize> = BTreeMap::new();
    for group in groups.iter_mut().filter(|g| g.part.is_some()) {
        let n = next
            .entry((group.folder.clone(), group.direct))
            .or_insert(0);
        *n += 1;
        group.part = Some(*n);
    }
}

/// Groups `models` by their place in the DAG into about `target` slices:
/// models ordered by depth (a model is one deeper than the deepest model
/// it refs), cut into contiguous, balanced runs, each cut moved, within
/// reach of its balanced place, to where the fewest refs cross (a
/// boundary between depths on a tie). Every ref then
/// points to the same slice or an earlier one, so `after` has no cycle.
/// A slice owns a folder whole (`models/staging/`) when every model under
/// it is the slice's, and its files one by one otherwise.
pub fn by_dag(models: &[Model], root: &str, target: usize) -> Proposal {
    let ids: BTreeMap<&str, &Model> = models.iter().map(|m| (m.id.as_str(), m)).collect();
    let mut depth: BTreeMap<&str, usize> = BTreeMap::new();
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
    for model in models {
        depth_of(&model.id, &ids, &mut depth, &mut BTreeSet::new());
    }
    let mut ordered: Vec<&Model> = models.iter().collect();
    ordered.sort_by(|a, b| (depth[a.id.as_str()], &a.path).cmp(&(depth[b.id.as_str()], &b.path)));
    let count = ordered.len();
    let target = target.clamp(1, count.max(1));
    let boundaries: Vec<usize> = (1..count)
        .filter(|i| depth[ordered[*i].id.as_str()] != depth[ordered[i - 1].id.as_str()])
        .collect();
    let slack = count / (2 * target);
    let crossing = crossing_refs(&ordered);
    // Each cut after the last, near its balanced place: where the fewest
    // refs cross, then at a boundary between depths, then nearest.
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
    let owner: BTreeMap<&str, usize> = chunks
        .iter()
        .enumerate()
        .flat_map(|(i, c)| c.iter().map(move |m| (m.id.as_str(), i)))
        .collect();
    let labels: Vec<String> = chunks
        .iter()
        .map(|chunk| {
            // The folder most of its models are in.
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
        })
        .collect();
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

/// Slice names from the groups' folders, made valid and unique.
fn names(slices: &[Vec<Group>]) -> Vec<SliceName> {
    let labels: Vec<String> = slices
        .iter()
        .map(|groups| {
            groups
                .first()
                .map_or_else(|| "slice".to_owned(), Group::label)
        })
        .collect();
    unique_names(&labels)
}

/// Valid, unique slice names from labels (`staging`, `staging-2`, …).
fn unique_names(labels: &[String]) -> Vec<SliceName> {
    let mut used = BTreeSet::new();
    labels
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let mut candidate = SliceName::clean_label(label);
            if candidate.is_empty() || !candidate.starts_with(|c: char| c.is_ascii_alphanumeric()) {
                candidate = format!("slice-{}", i + 1);
            }
            let mut name = candidate.clone();
            let mut n = 2;
            while used.contains(&name) {
                name = format!("{candidate}-{n}");
                n += 1;
            }
            used.insert(name.clone());
            SliceName::parse(&name).unwrap_or_else(|_| {
                SliceName::parse(&format!("slice-{}", i + 1)).expect("a plain name is valid")
            })
        })
        .collect()
}

/// A cycle in `edges` (i depends on each j in edges[i]), as its nodes.
fn find_cycle(edges: &[BTreeSet<usize>]) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        at: usize,
        edges: &[BTreeSet<usize>],
        marks: &mut [Mark],
        path: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        marks[at] = Mark::Open;
        path.push(at);
        for &next in &edges[at] {
            match marks[next] {
                Mark::Open => {
                    let from = path.iter().position(|p| *p == next).unwrap_or(0);
                    return Some(path[from..].to_vec());
                }
                Mark::New => {
                    if let Some(cycle) = visit(next, edges, marks, path) {
                        return Some(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks[at] = Mark::Done;
        None
    }
    let mut marks = vec![Mark::New; edges.len()];
    (0..edges.len()).find_map(|start| {
        (marks[start] == Mark::New)
            .then(|| visit(start, edges, &mut marks, &mut Vec::new()))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(id: &str, path: &str, deps: &[&str]) -> Model {
        Model {
            id: id.into(),
            path: path.into(),
            depends_on: deps.iter().map(|d| (*d).to_owned()).collect(),
        }
    }

    fn project() -> Vec<Model> {
        vec![
            model("stg_a", "models/staging/core/stg_a.sql", &[]),
            model("stg_b", "models/staging/core/stg_b.sql", &[]),
            model("stg_c", "models/staging/catalog/stg_c.sql", &[]),
            model(
                "int_x",
                "models/intermediate/int_x.sql",
                &["stg_a", "stg_c"],
            ),
            model("fct_y", "models/marts/finance/fct_y.sql", &["int_x"]),
            model("dim_z", "models/marts/finance/dim_z.sql", &["stg_b"]),
        ]
    }

    #[test]
    fn folders_become_slices_ordered_by_refs() {
        let proposal = by_folder(&project(), "models/", 3);
        let got: Vec<(&str, Vec<&str>, Vec<&str>)> = proposal
            .slices
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.owns.iter().map(String::as_str).collect(),
                    s.after.iter().map(SliceName::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "intermediate",
                    vec!["models/intermediate/"],
                    vec!["staging"]
                ),
                (
                    "marts",
                    vec!["models/marts/"],
                    vec!["intermediate", "staging"]
                ),
                ("staging", vec!["models/staging/"], vec![]),
            ]
        );
    }

    #[test]
    fn more_slices_split_the_largest_folder_and_fewer_merge_the_smallest() {
        let four = by_folder(&project(), "models/", 4);
        let names: Vec<&str> = four.slices.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["intermediate", "marts", "staging-catalog", "staging-core"]
        );
        let one = by_folder(&project(), "models/", 1);
        assert_eq!(one.slices.len(), 1);
        assert_eq!(one.slices[0].models, 6);
        assert!(one.slices[0].after.is_empty());
    }

    #[test]
    fn a_cycle_between_folders_merges_them_and_says_why() {
        let models = vec![
            model("a", "models/one/a.sql", &["b"]),
            model("b", "models/two/b.sql", &["c"]),
            model("c", "models/one/c.sql", &[]),
            model("d", "models/three/d.sql", &["a"]),
        ];
        let proposal = by_folder(&models, "models/", 3);
        assert_eq!(proposal.slices.len(), 2);
        assert!(proposal.notes[0].contains("cycle"), "{:?}", proposal.notes);
        let three = proposal
            .slices
            .iter()
            .find(|s| s.name.as_str() == "three")
            .unwrap();
        assert_eq!(three.after.len(), 1);
    }

    #[test]
    fn a_flat_folder_is_cut_into_balanced_file_lists() {
        // Airflow DAG files in one folder, and a second folder.
        let mut models: Vec<Model> = (1..=9)
            .map(|i| model(&format!("d{i}"), &format!("dags/etl_{i}.py"), &[]))
            .collect();
        models.push(model("p", "plugins/hooks.py", &[]));
        let proposal = by_folder(&models, "", 4);
        let got: Vec<(&str, Vec<&str>)> = proposal
            .slices
            .iter()
            .map(|s| (s.name.as_str(), s.owns.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "dags-1",
                    vec!["dags/etl_1.py", "dags/etl_2.py", "dags/etl_3.py"]
                ),
                (
                    "dags-2",
                    vec!["dags/etl_4.py", "dags/etl_5.py", "dags/etl_6.py"]
                ),
                (
                    "dags-3",
                    vec!["dags/etl_7.py", "dags/etl_8.py", "dags/etl_9.py"]
                ),
                ("plugins", vec!["plugins/"]),
            ]
        );
        // Asked for no more than the folders, the folders stay whole.
        let two = by_folder(&models, "", 2);
        assert_eq!(two.slices[0].owns, ["dags/"]);
    }

    #[test]
    fn by_the_dag_runs_of_models_by_depth_are_cut_where_fewest_refs_cross() {
        // In depth order: stg_c, stg_a, stg_b | int_x, dim_z | fct_y. A cut
        // at the depth boundary (after stg_b) would cross three refs
        // (int_x to stg_a and stg_c, dim_z to stg_b); after stg_c, one.
        let proposal = by_dag(&project(), "models/", 3);
        let got: Vec<(Vec<&str>, Vec<&str>)> = proposal
            .slices
            .iter()
            .map(|s| {
                (
                    s.owns.iter().map(String::as_str).collect(),
                    s.after.iter().map(SliceName::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (vec!["models/staging/catalog/"], vec![]),
                (
                    vec![
                        "models/staging/core/",
                        "models/intermediate/",
                        "models/marts/finance/dim_z.sql"
                    ],
                    vec!["staging"]
                ),
                (vec!["models/marts/finance/fct_y.sql"], vec!["staging-2"]),
            ]
        );
        // Where no place crosses fewer refs, a depth boundary wins.
        let chain = vec![
            model("a", "models/a.sql", &[]),
            model("b", "models/b.sql", &["a"]),
            model("c", "models/c.sql", &["b"]),
            model("d", "models/d.sql", &["c"]),
        ];
        let two = by_dag(&chain, "models/", 2);
        assert_eq!(two.slices[0].owns, ["models/a.sql", "models/b.sql"]);
    }
}
