//! Slices by folder: models grouped by the first folder under the root,
//! split at subfolders or merged to about the number asked for (a folder
//! with no subfolders left cut into file lists), ordered by the refs
//! between them, a ref cycle split at subfolders or merged (`by_folder`); and the one rule for
//! slices from a repository's folders that `sliceboard init` and
//! `sliceboard plan` share (`from_folders`: where the folders are, which
//! files count, how many slices).
//!
//! Pure: the files come from the caller; the grouping by the DAG is
//! `dag`'s and never used here.

use std::collections::{BTreeMap, BTreeSet};

use super::dag::{by_depth, depths, runs};
use super::finish::{edges_between, finish};
use super::{Layout, Model, Project, Proposal, find_cycle};

/// How many slices a proposal from folders aims at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SliceCount {
    /// One slice per folder under the root; past [`MAX_PER_FOLDER`]
    /// folders, the smallest merged.
    PerFolder,
    /// About this many: folders split at their subfolders or merged, a
    /// folder with no subfolders left cut into file lists.
    About(usize),
}

/// At most this many slices are proposed one per folder.
pub const MAX_PER_FOLDER: usize = 8;

/// Slices proposed from a repository's folders, and what they cover.
#[derive(Debug, Clone, PartialEq)]
pub struct FolderProposal {
    pub proposal: Proposal,
    /// Where the folders are: a dbt project's `models/` folder (`models/`,
    /// `transform/models/`), or `""` for the repository root.
    pub root: String,
    /// The files in those folders.
    pub files: usize,
    /// The folders directly under the root that hold them.
    pub folders: usize,
}

/// The rule `init` and `plan` share for slices from a repository's files
/// (`files`, `/`-separated, as the base branch holds them): the files in
/// the folders under [`folder_root`], hidden folders left out, as models
/// with no refs, grouped [`by_folder`] into `count` slices. Files directly
/// in the root belong to no slice.
pub fn from_folders(files: &[String], count: SliceCount) -> FolderProposal {
    let root = folder_root(files);
    let sources: Vec<Model> = files
        .iter()
        .filter(|file| {
            file.strip_prefix(root.as_str())
                .is_some_and(|rest| rest.contains('/') && !rest.starts_with('.'))
        })
        .map(|file| Model {
            id: file.clone(),
            path: file.clone(),
            depends_on: Vec::new(),
        })
        .collect();
    let folders = top_folders(files, &root).len();
    let target = match count {
        SliceCount::PerFolder => folders.min(MAX_PER_FOLDER),
        SliceCount::About(n) => n,
    };
    let count_sources = sources.len();
    let project = Project {
        models: sources,
        attached: Vec::new(),
        files: files
            .iter()
            .filter(|f| !f.split('/').any(|part| part.starts_with('.')))
            .cloned()
            .collect(),
        layout: Layout::default(),
    };
    let balance = matches!(count, SliceCount::About(_));
    FolderProposal {
        proposal: grouped(&project, &root, target, balance),
        root,
        files: count_sources,
        folders,
    }
}

/// Where a repository's slices by folder are cut: the `models/` folder of
/// its dbt project when that holds folders (the first project by path),
/// else the repository root (`""`).
pub fn folder_root(files: &[String]) -> String {
    files
        .iter()
        .filter_map(|file| file.strip_suffix("dbt_project.yml"))
        .filter(|dir| dir.is_empty() || dir.ends_with('/'))
        .map(|dir| format!("{dir}models/"))
        .find(|models| !top_folders(files, models).is_empty())
        .unwrap_or_default()
}

/// The folders directly under `root` that hold files, hidden ones left out.
fn top_folders<'a>(files: &'a [String], root: &str) -> BTreeSet<&'a str> {
    files
        .iter()
        .filter_map(|file| file.strip_prefix(root))
        .filter_map(|rest| rest.split_once('/').map(|(dir, _)| dir))
        .filter(|dir| !dir.starts_with('.'))
        .collect()
}

/// A group of models: the folder all of them are under (components
/// below the root) and the models.
#[derive(Debug, Clone)]
struct Group {
    folder: Vec<String>,
    models: BTreeSet<String>,
    /// Cut along the DAG already, or found unsplittable: never split again.
    settled: bool,
    /// Folders merged because they ref each other in a cycle: never split
    /// at its subfolders again (that would bring the cycle back), only cut
    /// along the DAG.
    cyclic: bool,
}

impl Group {
    fn name(&self) -> String {
        if self.folder.is_empty() {
            "models".to_owned()
        } else {
            self.folder.join("/")
        }
    }

    fn absorb(&mut self, other: Group) {
        let common = self
            .folder
            .iter()
            .zip(&other.folder)
            .take_while(|(a, b)| a == b)
            .count();
        self.folder.truncate(common);
        self.models.extend(other.models);
    }
}

/// Each model's folder under the root, as components.
type Folders<'a> = BTreeMap<&'a str, Vec<String>>;

/// Groups the project's models (under `root`, e.g. `models/`) by folder
/// into about `target` slices: the first folders under the root, those in
/// a ref cycle split at their subfolders until none is left, or merged (a
/// note says why); while there are too few groups,
/// or one holds more than 1.5 times the mean, the largest is split at its
/// subfolders, or cut along the DAG where the subfolders would sit on
/// both sides of another group or there are none; then, while there are
/// too many, the two smallest whose merge makes no cycle are merged,
/// near folders first.
pub fn by_folder(project: &Project, root: &str, target: usize) -> Proposal {
    grouped(project, root, target, true)
}

/// [`by_folder`]; without `balance`, a folder is split only while there
/// are fewer groups than `target`, never for its size.
fn grouped(project: &Project, root: &str, target: usize, balance: bool) -> Proposal {
    let target = target.max(1);
    let folders: Folders<'_> = project
        .models
        .iter()
        .map(|m| {
            let rest = m.path.strip_prefix(root).unwrap_or(&m.path);
            let mut parts: Vec<String> = rest.split('/').map(str::to_owned).collect();
            parts.pop();
            (m.id.as_str(), parts)
        })
        .collect();
    let mut notes = Vec::new();
    let mut groups = first_level(&project.models, &folders);
    resolve_cycles(&mut groups, project, &folders, &mut notes);
    let mean = project.models.len() as f64 / target as f64;
    let most = if balance { 1.5 * mean } else { f64::INFINITY };
    split_to(&mut groups, target, mean, most, project, &folders);
    resolve_cycles(&mut groups, project, &folders, &mut notes);
    merge_to(&mut groups, target, mean, project);
    let cuts = groups.into_iter().map(|g| g.models).collect();
    finish(project, cuts, root, notes)
}

/// Level one: the first folder under the root (files in the root itself
/// form their own group).
fn first_level(models: &[Model], folders: &Folders<'_>) -> Vec<Group> {
    let mut groups: BTreeMap<Vec<String>, BTreeSet<String>> = BTreeMap::new();
    for model in models {
        let key: Vec<String> = folders[model.id.as_str()].iter().take(1).cloned().collect();
        groups.entry(key).or_default().insert(model.id.clone());
    }
    groups
        .into_iter()
        .map(|(folder, models)| Group {
            folder,
            models,
            settled: false,
            cyclic: false,
        })
        .collect()
}

fn cuts(groups: &[Group]) -> Vec<BTreeSet<String>> {
    groups.iter().map(|g| g.models.clone()).collect()
}

/// No two groups ref each other in a cycle: the largest group of a cycle
/// that has subfolders is split at them (the cycle may be between two of
/// its subfolders and another folder's), and a cycle of groups none of
/// which can be split is merged (a note says why).
fn resolve_cycles(
    groups: &mut Vec<Group>,
    project: &Project,
    folders: &Folders<'_>,
    notes: &mut Vec<String>,
) {
    while let Some(mut cycle) = find_cycle(&edges_between(project, &cuts(groups))) {
        let splittable = cycle
            .iter()
            .copied()
            .filter(|i| !groups[*i].cyclic)
            .map(|i| (i, subfolder_parts(&groups[i], folders)))
            .filter(|(_, parts)| parts.len() > 1)
            .max_by_key(|(i, _)| groups[*i].models.len());
        if let Some((at, parts)) = splittable {
            groups.remove(at);
            groups.extend(parts);
            continue;
        }
        cycle.sort_unstable();
        let names: Vec<String> = cycle.iter().map(|i| groups[*i].name()).collect();
        notes.push(format!(
            "{} ref each other in a cycle, so no slice holds one of them without the other (no merge order could satisfy that)",
            names.join(", ")
        ));
        for &i in cycle.iter().skip(1).rev() {
            let merged = groups.remove(i);
            groups[cycle[0]].absorb(merged);
        }
        groups[cycle[0]].cyclic = true;
    }
}

/// A group's parts by the next folder down (the files directly in its
/// folder one part).
fn subfolder_parts(group: &Group, folders: &Folders<'_>) -> Vec<Group> {
    let depth = group.folder.len();
    let mut split: BTreeMap<Option<&String>, BTreeSet<String>> = BTreeMap::new();
    for id in &group.models {
        split
            .entry(folders[id.as_str()].get(depth))
            .or_default()
            .insert(id.clone());
    }
    split
        .into_iter()
        .map(|(sub, models)| {
            let mut folder = group.folder.clone();
            folder.extend(sub.cloned());
            Group {
                folder,
                models,
                settled: false,
                cyclic: false,
            }
        })
        .collect()
}

/// Splits the largest group while there are fewer than `target` or one
/// holds more than `most` models.
fn split_to(
    groups: &mut Vec<Group>,
    target: usize,
    mean: f64,
    most: f64,
    project: &Project,
    folders: &Folders<'_>,
) {
    let depth = depths(&project.models);
    let by_id: BTreeMap<&str, &Model> = project.models.iter().map(|m| (m.id.as_str(), m)).collect();
    loop {
        let largest = groups.iter().map(|g| g.models.len()).max().unwrap_or(0);
        if groups.len() >= target && largest as f64 <= most {
            return;
        }
        let Some(at) = groups
            .iter()
            .enumerate()
            .filter(|(_, g)| !g.settled && g.models.len() >= 2)
            .max_by_key(|(i, g)| (g.models.len(), std::cmp::Reverse(*i)))
            .map(|(i, _)| i)
        else {
            return;
        };
        let count = groups.len();
        let mut group = groups.remove(at);
        // Split for its size alone, a folder is cut along the DAG only past
        // twice the mean; below that only its subfolders split it.
        let may_cut = count < target || group.models.len() as f64 > 2.0 * mean;
        let parts = match at_subfolders(&group, groups, project, folders) {
            Some(parts) => parts,
            None if !may_cut => Vec::new(),
            None => {
                let size = group.models.len();
                let pieces = if count < target {
                    (target - count + 1).max((size as f64 / (2.0 * mean)).ceil() as usize)
                } else {
                    (size as f64 / mean).ceil() as usize
                };
                along_the_dag(&group, pieces.clamp(2, size), &by_id, &depth)
            }
        };
        if parts.len() < 2 {
            group.settled = true;
            groups.insert(at, group);
        } else {
            groups.extend(parts);
        }
    }
}

/// A group split by the next folder down (the files directly in its
/// folder one part), parts that ref each other in a cycle merged back;
/// `None` when it has one part, or when a part would come both before
/// and after another group.
fn at_subfolders(
    group: &Group,
    others: &[Group],
    project: &Project,
    folders: &Folders<'_>,
) -> Option<Vec<Group>> {
    if group.cyclic {
        return None;
    }
    let mut parts = subfolder_parts(group, folders);
    loop {
        if parts.len() < 2 {
            return None;
        }
        let mut all = cuts(others);
        all.extend(parts.iter().map(|p| p.models.clone()));
        let Some(mut cycle) = find_cycle(&edges_between(project, &all)) else {
            return Some(parts);
        };
        if cycle.iter().any(|i| *i < others.len()) {
            return None;
        }
        cycle.sort_unstable();
        let keep = cycle[0] - others.len();
        for &i in cycle.iter().skip(1).rev() {
            let merged = parts.remove(i - others.len());
            parts[keep].absorb(merged);
        }
    }
}

/// A group cut along the DAG into about `pieces` runs by depth, where the
/// fewest refs cross (as `--by dag` cuts the whole project).
fn along_the_dag(
    group: &Group,
    pieces: usize,
    by_id: &BTreeMap<&str, &Model>,
    depth: &BTreeMap<&str, usize>,
) -> Vec<Group> {
    let mine: Vec<&Model> = group.models.iter().map(|id| by_id[id.as_str()]).collect();
    let ordered = by_depth(&mine, depth);
    runs(&ordered, depth, pieces)
        .into_iter()
        .map(|run| Group {
            folder: group.folder.clone(),
            models: run.iter().map(|m| m.id.clone()).collect(),
            settled: true,
            cyclic: false,
        })
        .collect()
}

/// While there are more than `target` groups: the pair to merge is the
/// one that makes no cycle (no path from one to the other through a
/// third), keeps within 1.5 times the mean if any can, and is smallest,
/// its size weighed by how far apart the folders are (siblings first).
fn merge_to(groups: &mut Vec<Group>, target: usize, mean: f64, project: &Project) {
    while groups.len() > target {
        let edges = edges_between(project, &cuts(groups));
        let reach: Vec<Vec<bool>> = transitive_closure(&edges);
        let mut pairs: Vec<(bool, usize, usize, usize, usize)> = Vec::new();
        for a in 0..groups.len() {
            for b in a + 1..groups.len() {
                let size = groups[a].models.len() + groups[b].models.len();
                let (fa, fb) = (&groups[a].folder, &groups[b].folder);
                let common = fa.iter().zip(fb).take_while(|(x, y)| x == y).count();
                let apart = 1 + (fa.len().max(fb.len()) - common).min(2);
                pairs.push((size as f64 > 1.5 * mean, size * apart, size, a, b));
            }
        }
        pairs.sort_unstable();
        let through = |a: usize, b: usize| {
            (0..groups.len()).any(|c| c != a && c != b && reach[a][c] && reach[c][b])
        };
        let Some(&(.., a, b)) = pairs
            .iter()
            .find(|(.., a, b)| !through(*a, *b) && !through(*b, *a))
        else {
            return;
        };
        let merged = groups.remove(b);
        groups[a].absorb(merged);
        groups[a].settled = true;
    }
}

/// `reach[a][b]`: group a refs group b, directly or through others.
fn transitive_closure(edges: &[BTreeSet<usize>]) -> Vec<Vec<bool>> {
    let n = edges.len();
    let mut reach = vec![vec![false; n]; n];
    for (start, row) in reach.iter_mut().enumerate() {
        let mut stack: Vec<usize> = edges[start].iter().copied().collect();
        while let Some(at) = stack.pop() {
            if !row[at] {
                row[at] = true;
                stack.extend(edges[at].iter().copied());
            }
        }
    }
    reach
}
