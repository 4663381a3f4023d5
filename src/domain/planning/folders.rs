//! Slices by folder: models grouped by the first folder under the root,
//! split at subfolders or merged to about the number asked for (a folder
//! with no subfolders left cut into file lists), ordered by the refs
//! between them, a ref cycle merged (`by_folder`); and the one rule for
//! slices from a repository's folders that `sliceboard init` and
//! `sliceboard plan` share (`from_folders`: where the folders are, which
//! files count, how many slices).
//!
//! Pure: the files come from the caller; the grouping by the DAG is
//! `dag`'s and never used here.

use std::collections::{BTreeMap, BTreeSet};

use super::{Model, Proposal, Proposed, find_cycle, unique_names};
use crate::domain::slice::SliceName;

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
#[derive(Debug, Clone, PartialEq, Eq)]
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
    FolderProposal {
        proposal: by_folder(&sources, &root, target),
        root,
        files: sources.len(),
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

/// Each model's folder under the root, as components.
type Folders<'a> = BTreeMap<&'a str, Vec<String>>;

/// Groups `models` (under `root`, e.g. `models/`) by folder into about
/// `target` slices.
pub fn by_folder(models: &[Model], root: &str, target: usize) -> Proposal {
    let target = target.max(1);
    let paths: BTreeMap<&str, &str> = models
        .iter()
        .map(|m| (m.id.as_str(), m.path.as_str()))
        .collect();
    let folders: Folders<'_> = models
        .iter()
        .map(|m| {
            let rest = m.path.strip_prefix(root).unwrap_or(&m.path);
            let mut parts: Vec<String> = rest.split('/').map(str::to_owned).collect();
            parts.pop();
            (m.id.as_str(), parts)
        })
        .collect();
    let mut groups = first_level(models, &folders);
    split_to(&mut groups, target, &folders, &paths);
    groups.sort_by(|a, b| {
        (&a.folder, a.direct, a.first_path(&paths)).cmp(&(
            &b.folder,
            b.direct,
            b.first_path(&paths),
        ))
    });
    number_parts(&mut groups);
    let slices = merge_to(groups, target);
    ordered_by_refs(slices, models, root, &paths)
}

/// Level one: the first folder under the root (files in the root itself
/// form their own group).
fn first_level(models: &[Model], folders: &Folders<'_>) -> Vec<Group> {
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
    groups
}

/// Too few groups: splits the largest group that has subfolders, or, when
/// none has, cuts the largest group's files, until there are `target`.
fn split_to(
    groups: &mut Vec<Group>,
    target: usize,
    folders: &Folders<'_>,
    paths: &BTreeMap<&str, &str>,
) {
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
            if !cut_largest(groups, paths, pieces) {
                break;
            }
            continue;
        };
        let group = groups.remove(at);
        groups.extend(split_at_subfolders(&group, folders));
    }
}

/// A group split by the next folder down: one group per subfolder, and
/// one for the files directly in the group's folder.
fn split_at_subfolders(group: &Group, folders: &Folders<'_>) -> Vec<Group> {
    let depth = group.folder.len();
    let mut parts: BTreeMap<Option<String>, BTreeSet<String>> = BTreeMap::new();
    for id in &group.models {
        parts
            .entry(folders[id.as_str()].get(depth).cloned())
            .or_default()
            .insert(id.clone());
    }
    parts
        .into_iter()
        .map(|(sub, models)| {
            let (folder, direct) = match sub {
                Some(sub) => {
                    let mut folder = group.folder.clone();
                    folder.push(sub);
                    (folder, false)
                }
                None => (group.folder.clone(), true),
            };
            Group {
                folder,
                direct,
                part: None,
                models,
            }
        })
        .collect()
}

/// How many models a slice's groups hold.
fn size(slice: &[Group]) -> usize {
    slice.iter().map(|g| g.models.len()).sum()
}

/// Slices: one per group, the two smallest merged while there are more
/// than `target`.
fn merge_to(groups: Vec<Group>, target: usize) -> Vec<Vec<Group>> {
    let mut slices: Vec<Vec<Group>> = groups.into_iter().map(|g| vec![g]).collect();
    while slices.len() > target {
        let mut by_size: Vec<usize> = (0..slices.len()).collect();
        by_size.sort_by_key(|i| size(&slices[*i]));
        let (a, b) = (by_size[0].min(by_size[1]), by_size[0].max(by_size[1]));
        let merged = slices.remove(b);
        slices[a].extend(merged);
    }
    slices
}

/// The proposal: `after` from the refs between slices, the slices of a
/// ref cycle merged into one (and a note says why).
fn ordered_by_refs(
    mut slices: Vec<Vec<Group>>,
    models: &[Model],
    root: &str,
    paths: &BTreeMap<&str, &str>,
) -> Proposal {
    let mut notes = Vec::new();
    loop {
        let edges = refs_between(&slices, models);
        let Some(mut cycle) = find_cycle(&edges) else {
            let names = names(&slices);
            let proposed = slices
                .iter()
                .enumerate()
                .map(|(i, groups)| Proposed {
                    name: names[i].clone(),
                    owns: groups.iter().flat_map(|g| g.globs(root, paths)).collect(),
                    models: size(groups),
                    after: edges[i].iter().map(|j| names[*j].clone()).collect(),
                })
                .collect();
            return Proposal {
                slices: proposed,
                notes,
            };
        };
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
        cycle.sort_unstable();
        let keep = cycle[0];
        for &i in cycle.iter().skip(1).rev() {
            let merged = slices.remove(i);
            slices[keep].extend(merged);
        }
    }
}

/// For each slice, the other slices its models ref.
fn refs_between(slices: &[Vec<Group>], models: &[Model]) -> Vec<BTreeSet<usize>> {
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
    edges
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
