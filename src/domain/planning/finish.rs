//! What a grouping of models becomes: slices written upstream first,
//! named for what they hold, each owning its models' files and the files
//! that follow them (a model's YAML, its singular tests, the seeds only it
//! reads), the rest listed as shared (naming the slices) or unowned (with
//! the reason), and the proposal's quality in numbers.
//!
//! Pure: the project's files and layout come from the caller.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::dag::depths;
use super::{Project, Proposal, Proposed, Quality, Shared, Unowned, find_cycle, unique_names};

/// What a file of the repository is, for a dbt project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Model,
    Yaml,
    Docs,
    Test,
    Seed,
    Snapshot,
    Analysis,
    Macro,
    /// A file directly in the project's folder (`dbt_project.yml`).
    Project,
    /// In the project's folder but on none of its paths.
    Other,
    /// Outside the project's folder (every file, without a dbt project).
    Outside,
}

impl Kind {
    /// How the plan's comments and `--explain` name the kind.
    pub fn word(self) -> &'static str {
        match self {
            Kind::Model => "model",
            Kind::Yaml => "YAML",
            Kind::Docs => "docs",
            Kind::Test => "singular test",
            Kind::Seed => "seed",
            Kind::Snapshot => "snapshot",
            Kind::Analysis => "analysis",
            Kind::Macro => "macro",
            Kind::Project => "project file",
            Kind::Other => "other",
            Kind::Outside => "outside",
        }
    }

    /// [`Kind::word`] for `n` files (`2 seeds`, `2 YAML`).
    pub fn counted(self, n: usize) -> String {
        let word = self.word();
        match (self, n) {
            (_, 1) | (Kind::Yaml | Kind::Docs | Kind::Other | Kind::Outside, _) => {
                format!("{n} {word}")
            }
            (Kind::Analysis, _) => format!("{n} analyses"),
            _ => format!("{n} {word}s"),
        }
    }
}

/// Where a dbt project's kinds of files are: its folder and the paths its
/// `dbt_project.yml` gives each kind, from the repository root. Without a
/// project (`plan` from folders) every file is [`Kind::Outside`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    /// `""` at the repository root, else `transform/analytics/`.
    pub project: Option<String>,
    /// Folders (ending in `/`) by kind: models, seeds, tests, analyses,
    /// macros and snapshots.
    pub paths: Vec<(Kind, String)>,
}

impl Layout {
    /// A project in `project` (`""` or ending in `/`) with its paths as
    /// `dbt_project.yml` gives them, relative to the project.
    pub fn dbt(project: &str, paths: &[(Kind, Vec<String>)]) -> Layout {
        let paths = paths
            .iter()
            .flat_map(|(kind, folders)| {
                folders.iter().map(move |folder| {
                    let folder = folder.trim_matches('/');
                    (*kind, format!("{project}{folder}/"))
                })
            })
            .collect();
        Layout {
            project: Some(project.to_owned()),
            paths,
        }
    }

    pub fn kind(&self, path: &str) -> Kind {
        let Some(rest) = self
            .project
            .as_deref()
            .and_then(|project| path.strip_prefix(project))
        else {
            return Kind::Outside;
        };
        let folder = self
            .paths
            .iter()
            .filter(|(_, folder)| path.starts_with(folder.as_str()))
            .max_by_key(|(_, folder)| folder.len());
        match folder {
            Some((Kind::Model, _)) => match path.rsplit_once('.').map(|(_, ext)| ext) {
                Some("sql" | "py") => Kind::Model,
                Some("yml" | "yaml") => Kind::Yaml,
                _ => Kind::Docs,
            },
            Some((kind, _)) => *kind,
            None if !rest.contains('/') => Kind::Project,
            None => Kind::Other,
        }
    }

    /// The folder of `kind` that holds `path`, or its folder right under
    /// the project (or the repository).
    fn place(&self, path: &str, kind: Kind) -> String {
        if let Some((_, folder)) = self
            .paths
            .iter()
            .filter(|(k, folder)| *k == kind && path.starts_with(folder.as_str()))
            .max_by_key(|(_, folder)| folder.len())
        {
            return folder.clone();
        }
        let prefix = match kind {
            Kind::Outside => "",
            _ => self.project.as_deref().unwrap_or(""),
        };
        let rest = path.strip_prefix(prefix).unwrap_or(path);
        match rest.split_once('/') {
            Some((dir, _)) => format!("{prefix}{dir}/"),
            None => path.to_owned(),
        }
    }
}

/// Who a file goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Slice(usize),
    /// Documents or tests models of these slices.
    Shared(Kind, BTreeSet<usize>),
    Unowned(Kind),
}

/// The proposal from `cuts` (each a set of model ids) of `project`'s
/// models; `root` is the folder the models are under (`models/`), for
/// names.
pub(super) fn finish(
    project: &Project,
    mut cuts: Vec<BTreeSet<String>>,
    root: &str,
    mut notes: Vec<String>,
) -> Proposal {
    cuts.retain(|c| !c.is_empty());
    let paths: BTreeMap<&str, &str> = project
        .models
        .iter()
        .map(|m| (m.id.as_str(), m.path.as_str()))
        .collect();
    // A grouping never makes a cycle, but a project can (dbt refuses one).
    loop {
        let edges = edges_between(project, &cuts);
        let Some(mut cycle) = find_cycle(&edges) else {
            break;
        };
        cycle.sort_unstable();
        notes.push(format!(
            "{} ref each other in a cycle, so they are one slice (no merge order could satisfy them)",
            cycle
                .iter()
                .map(|i| label(&cuts[*i], &paths, root, &BTreeMap::new()))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        for &i in cycle.iter().skip(1).rev() {
            let merged = cuts.remove(i);
            cuts[cycle[0]].extend(merged);
        }
    }
    let cuts = upstream_first(project, cuts, &paths);
    let edges = edges_between(project, &cuts);
    let depth = depths(&project.models);
    let names = unique_names(&labels(&cuts, &paths, root, &depth));
    let owner: BTreeMap<&str, usize> = cuts
        .iter()
        .enumerate()
        .flat_map(|(i, c)| c.iter().map(move |id| (id.as_str(), i)))
        .collect();
    let targets = assign(project, &owner, &edges);
    let globs = owned_globs(project, &targets, cuts.len());

    let mut refs_in = vec![0; cuts.len()];
    let mut refs_out = vec![0; cuts.len()];
    for model in &project.models {
        let Some(&from) = owner.get(model.id.as_str()) else {
            continue;
        };
        for dep in &model.depends_on {
            if let Some(&to) = owner.get(dep.as_str()).filter(|to| **to != from) {
                refs_out[from] += 1;
                refs_in[to] += 1;
            }
        }
    }
    let mut yaml = vec![0; cuts.len()];
    for (path, target) in &targets {
        if let Target::Slice(i) = target
            && project.layout.kind(path) == Kind::Yaml
        {
            yaml[*i] += 1;
        }
    }
    // `after` names only what another `after` does not already imply.
    let implied = transitive(&edges);
    let needed: Vec<BTreeSet<usize>> = edges
        .iter()
        .map(|deps| {
            deps.iter()
                .copied()
                .filter(|d| !deps.iter().any(|e| e != d && implied[*e].contains(d)))
                .collect()
        })
        .collect();
    let slices: Vec<Proposed> = cuts
        .iter()
        .enumerate()
        .map(|(i, cut)| Proposed {
            name: names[i].clone(),
            owns: globs[i].clone(),
            models: cut.len(),
            yaml: yaml[i],
            refs_in: refs_in[i],
            refs_out: refs_out[i],
            after: needed[i].iter().map(|j| names[*j].clone()).collect(),
        })
        .collect();
    let (shared, unowned) = left_over(project, &targets, &names);
    let mut quality = Quality {
        crossing_refs: refs_out.iter().sum(),
        largest: slices.iter().map(|s| s.models).max().unwrap_or(0),
        mean: project.models.len() as f64 / slices.len().max(1) as f64,
        ..Quality::default()
    };
    for u in &unowned {
        *quality.unowned.entry(u.kind).or_default() += u.files;
    }
    quality.shared_yaml = shared.iter().filter(|s| s.kind == Kind::Yaml).count();
    Proposal {
        slices,
        notes,
        shared,
        unowned,
        quality,
    }
}

/// For each cut, the cuts its models ref.
pub(super) fn edges_between(project: &Project, cuts: &[BTreeSet<String>]) -> Vec<BTreeSet<usize>> {
    let owner: BTreeMap<&str, usize> = cuts
        .iter()
        .enumerate()
        .flat_map(|(i, c)| c.iter().map(move |id| (id.as_str(), i)))
        .collect();
    let mut edges = vec![BTreeSet::new(); cuts.len()];
    for model in &project.models {
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

/// The cuts in merge order: each after every cut it refs, the one whose
/// first file sorts first on a tie.
fn upstream_first(
    project: &Project,
    cuts: Vec<BTreeSet<String>>,
    paths: &BTreeMap<&str, &str>,
) -> Vec<BTreeSet<String>> {
    let edges = edges_between(project, &cuts);
    let first = |c: &BTreeSet<String>| -> String {
        c.iter()
            .filter_map(|id| paths.get(id.as_str()))
            .min()
            .map(|p| (*p).to_owned())
            .unwrap_or_default()
    };
    let mut waiting: Vec<usize> = edges.iter().map(BTreeSet::len).collect();
    let mut ready: BTreeSet<(String, usize)> = (0..cuts.len())
        .filter(|i| waiting[*i] == 0)
        .map(|i| (first(&cuts[i]), i))
        .collect();
    let mut order = Vec::with_capacity(cuts.len());
    while let Some((key, i)) = ready.iter().next().cloned() {
        ready.remove(&(key, i));
        order.push(i);
        for (j, deps) in edges.iter().enumerate() {
            if deps.contains(&i) {
                waiting[j] -= 1;
                if waiting[j] == 0 {
                    ready.insert((first(&cuts[j]), j));
                }
            }
        }
    }
    let mut cuts: Vec<Option<BTreeSet<String>>> = cuts.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| cuts[i].take()).collect()
}

/// Each cut's label, made to tell apart cuts of one folder.
fn labels(
    cuts: &[BTreeSet<String>],
    paths: &BTreeMap<&str, &str>,
    root: &str,
    depth: &BTreeMap<&str, usize>,
) -> Vec<String> {
    // Each top folder's place in the layers: its models' mean depth.
    let mut sums: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (id, path) in paths {
        let entry = sums.entry(top_folder(path, root)).or_default();
        entry.0 += depth.get(id).copied().unwrap_or(0);
        entry.1 += 1;
    }
    let layer: BTreeMap<&str, f64> = sums
        .into_iter()
        .map(|(top, (sum, n))| (top, sum as f64 / n.max(1) as f64))
        .collect();
    let plain: Vec<String> = cuts.iter().map(|c| label(c, paths, root, &layer)).collect();
    let tops: Vec<BTreeSet<&str>> = cuts
        .iter()
        .map(|c| {
            c.iter()
                .filter_map(|id| paths.get(id.as_str()))
                .map(|p| top_folder(p, root))
                .collect()
        })
        .collect();
    let told: Vec<String> = plain
        .iter()
        .enumerate()
        .map(|(i, base)| {
            // A folder split between slices: each says which part it holds.
            let split = (0..cuts.len()).any(|j| j != i && !tops[i].is_disjoint(&tops[j]))
                && tops[i].len() == 1
                && !base.contains('-');
            if !split && plain.iter().filter(|l| *l == base).count() < 2 {
                return base.clone();
            }
            match distinguish(&cuts[i], paths, root) {
                // A name is typed and read: past 40 characters, a number.
                Some(part) if !base.ends_with(&part) && base.len() + part.len() < 40 => {
                    format!("{base}-{part}")
                }
                _ => base.clone(),
            }
        })
        .collect();
    // What tells nothing apart is left out: `dags`, `dags-2` rather than
    // `dags-etl`, `dags-etl-2`.
    told.iter()
        .zip(&plain)
        .map(|(label, base)| {
            if label != base && told.iter().filter(|l| *l == label).count() > 1 {
                base.clone()
            } else {
                label.clone()
            }
        })
        .collect()
}

/// The first folder of `path` under `root` (`models` for a file in it).
fn top_folder<'a>(path: &'a str, root: &str) -> &'a str {
    let rest = path.strip_prefix(root).unwrap_or(path);
    rest.split_once('/').map_or("models", |(top, _)| top)
}

/// A cut's label: the highest folder it holds whole (`marts`), else the
/// deepest folder all its models share (`staging-stripe`), or
/// the top folders it holds in the order of the layers (each folder's mean
/// depth in the project: `staging-intermediate`, `intermediate-to-marts`).
fn label(
    cut: &BTreeSet<String>,
    paths: &BTreeMap<&str, &str>,
    root: &str,
    layer: &BTreeMap<&str, f64>,
) -> String {
    let dirs = folders_of(cut, paths, root);
    let common = common_len(&dirs);
    if let Some(first) = dirs.first()
        && common > 0
    {
        // The highest folder the cut holds whole, else the deepest all its
        // models share.
        let whole = (1..=common).find(|&n| {
            let folder = format!("{root}{}/", first[..n].join("/"));
            paths
                .iter()
                .filter(|(_, path)| path.starts_with(&folder))
                .all(|(id, _)| cut.contains(*id))
        });
        return first[..whole.unwrap_or(common)].join("-");
    }
    let mut tops: Vec<&str> = cut
        .iter()
        .filter_map(|id| paths.get(id.as_str()))
        .map(|path| top_folder(path, root))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    tops.sort_by(|a, b| {
        let (la, lb) = (layer.get(a).unwrap_or(&0.0), layer.get(b).unwrap_or(&0.0));
        la.total_cmp(lb).then(a.cmp(b))
    });
    match tops.as_slice() {
        [] => "slice".to_owned(),
        [a] => (*a).to_owned(),
        [a, b] => format!("{a}-{b}"),
        [a, .., z] => format!("{a}-to-{z}"),
    }
}

/// The folders (components under `root`) of a cut's models.
fn folders_of<'a>(
    cut: &BTreeSet<String>,
    paths: &BTreeMap<&str, &'a str>,
    root: &str,
) -> Vec<Vec<&'a str>> {
    cut.iter()
        .filter_map(|id| paths.get(id.as_str()).copied())
        .map(|path| {
            let rest = path.strip_prefix(root).unwrap_or(path);
            let mut parts: Vec<&str> = rest.split('/').collect();
            parts.pop();
            parts
        })
        .collect()
}

/// How many leading components all of `dirs` share.
fn common_len(dirs: &[Vec<&str>]) -> usize {
    let Some(first) = dirs.first() else {
        return 0;
    };
    dirs.iter().fold(first.len(), |n, d| {
        n.min(d.iter().zip(first).take_while(|(a, b)| a == b).count())
    })
}

/// What tells a cut apart from others of its folder: the subfolders it
/// holds below their common folder (`github-hubspot`, `github-to-jira` for
/// a run of them, `github-and-3-more`), or below the top folders when it
/// holds several and they are one or two (`ops`), else the dominant word
/// of its models' names (`stg_orders__x` and `stg_orders` give `orders`).
fn distinguish(cut: &BTreeSet<String>, paths: &BTreeMap<&str, &str>, root: &str) -> Option<String> {
    const LAYERS: &[&str] = &[
        "stg", "base", "int", "fct", "fact", "dim", "mart", "rpt", "report", "agg", "obt", "src",
    ];
    let dirs = folders_of(cut, paths, root);
    // Below the common folder, or below the top folders when several.
    let common = common_len(&dirs);
    let level = common.max(1);
    let subs: Vec<&str> = dirs
        .iter()
        .filter_map(|d| d.get(level).copied())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    match subs.as_slice() {
        [] => {}
        [one] => return Some((*one).to_owned()),
        [a, b] => return Some(format!("{a}-{b}")),
        _ if common == 0 => return None,
        [first, .., last] => {
            // All the folder's subfolders from first to last, or not.
            let prefix = &dirs[0][..common];
            let all: BTreeSet<&str> = paths
                .values()
                .map(|p| {
                    p.strip_prefix(root)
                        .unwrap_or(p)
                        .split('/')
                        .collect::<Vec<_>>()
                })
                .filter(|parts| parts.len() > common + 1 && parts[..common] == *prefix)
                .map(|parts| parts[common])
                .collect();
            let between = all.range(*first..=*last).count();
            return Some(if between == subs.len() {
                format!("{first}-to-{last}")
            } else {
                format!("{first}-and-{}-more", subs.len() - 1)
            });
        }
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for id in cut {
        let Some(path) = paths.get(id.as_str()) else {
            continue;
        };
        let stem = path.rsplit('/').next().unwrap_or(path);
        let stem = stem.split('.').next().unwrap_or(stem);
        let head = stem.split("__").next().unwrap_or(stem);
        let mut words = head.split('_').filter(|w| !w.is_empty()).peekable();
        if words.peek().is_some_and(|w| LAYERS.contains(w)) {
            words.next();
        }
        if let Some(word) = words.next() {
            *counts.entry(word).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(word, _)| word.to_owned())
}

/// Every file's target: a model's to its slice; a file that follows models
/// to their slice when they are one slice's, else shared; the rest by
/// kind, a file among one slice's models (docs, a YAML of no model) to it.
fn assign<'a>(
    project: &'a Project,
    owner: &BTreeMap<&str, usize>,
    edges: &[BTreeSet<usize>],
) -> BTreeMap<&'a str, Target> {
    let layout = &project.layout;
    let mut targets: BTreeMap<&str, Target> = BTreeMap::new();
    for model in &project.models {
        if let Some(&i) = owner.get(model.id.as_str()) {
            targets.insert(&model.path, Target::Slice(i));
        }
    }
    let mut follows: BTreeMap<&str, (Kind, BTreeSet<usize>)> = BTreeMap::new();
    for attached in &project.attached {
        let entry = follows
            .entry(&attached.path)
            .or_insert((attached.kind, BTreeSet::new()));
        entry
            .1
            .extend(attached.models.iter().filter_map(|m| owner.get(m.as_str())));
    }
    let after = transitive(edges);
    for (path, (kind, slices)) in follows {
        if targets.contains_key(path) || slices.is_empty() {
            continue;
        }
        let target = match slices.iter().copied().collect::<Vec<_>>().as_slice() {
            [one] => Target::Slice(*one),
            many => {
                // A test goes to the slice that comes after every other it refs.
                let last = many
                    .iter()
                    .find(|s| many.iter().all(|t| t == *s || after[**s].contains(t)));
                match (kind, last) {
                    (Kind::Test, Some(last)) => Target::Slice(*last),
                    _ => Target::Shared(kind, slices),
                }
            }
        };
        targets.insert(path, target);
    }
    // The models under each folder, by slice, for files beside them.
    let mut under: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    for model in &project.models {
        let Some(&i) = owner.get(model.id.as_str()) else {
            continue;
        };
        for (at, _) in model.path.match_indices('/') {
            under.entry(&model.path[..=at]).or_default().insert(i);
        }
    }
    for file in &project.files {
        if targets.contains_key(file.as_str()) {
            continue;
        }
        let kind = layout.kind(file);
        let target = match kind {
            Kind::Yaml | Kind::Docs | Kind::Model => {
                // The nearest folder up that holds models.
                let beside = file
                    .match_indices('/')
                    .map(|(at, _)| &file[..=at])
                    .rev()
                    .find_map(|folder| under.get(folder));
                match beside.map(|s| s.iter().copied().collect::<Vec<_>>()) {
                    Some(one) if one.len() == 1 => Target::Slice(one[0]),
                    _ => Target::Unowned(kind),
                }
            }
            _ => Target::Unowned(kind),
        };
        targets.insert(file, target);
    }
    targets
}

/// For each slice, every slice it comes after, directly or not.
fn transitive(edges: &[BTreeSet<usize>]) -> Vec<BTreeSet<usize>> {
    (0..edges.len())
        .map(|start| {
            let mut seen = BTreeSet::new();
            let mut stack: Vec<usize> = edges[start].iter().copied().collect();
            while let Some(at) = stack.pop() {
                if seen.insert(at) {
                    stack.extend(edges[at].iter().copied());
                }
            }
            seen
        })
        .collect()
}

/// Each slice's globs: the highest folders all of whose files are its,
/// whole (`models/staging/`); a folder's files of one extension when they
/// all are (`models/marts/*.sql`, two or more); its other files one by one.
fn owned_globs(
    project: &Project,
    targets: &BTreeMap<&str, Target>,
    slices: usize,
) -> Vec<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Holder {
        One(usize),
        Mixed,
    }
    fn hold(at: &mut Holder, by: Holder) {
        if *at != by {
            *at = Holder::Mixed;
        }
    }
    let mut universe: BTreeSet<&str> = project.files.iter().map(String::as_str).collect();
    universe.extend(targets.keys().copied());
    let holder = |file: &str| match targets.get(file) {
        Some(Target::Slice(i)) => Holder::One(*i),
        _ => Holder::Mixed,
    };
    let mut folders: BTreeMap<&str, Holder> = BTreeMap::new();
    let mut by_ext: BTreeMap<(&str, &str), (usize, Holder)> = BTreeMap::new();
    for file in &universe {
        let by = holder(file);
        for (at, _) in file.match_indices('/') {
            let folder = &file[..=at];
            match folders.get_mut(folder) {
                Some(held) => hold(held, by),
                None => {
                    folders.insert(folder, by);
                }
            }
        }
        let (dir, ext) = dir_ext(file);
        match by_ext.get_mut(&(dir, ext)) {
            Some((count, held)) => {
                *count += 1;
                hold(held, by);
            }
            None => {
                by_ext.insert((dir, ext), (1, by));
            }
        }
    }
    let project_dir = project.layout.project.as_deref().unwrap_or("");
    // A folder of tests, seeds or the like is never owned whole: another
    // slice's next test goes there too.
    let kind_roots: BTreeSet<&str> = project
        .layout
        .paths
        .iter()
        .filter(|(kind, _)| *kind != Kind::Model)
        .map(|(_, folder)| folder.as_str())
        .collect();
    let model_paths: Vec<&str> = project
        .layout
        .paths
        .iter()
        .filter(|(kind, _)| *kind == Kind::Model)
        .map(|(_, folder)| folder.as_str())
        .collect();
    // Models first, so a slice's first glob says what it is.
    let mut ordered: Vec<&str> = universe.iter().copied().collect();
    ordered.sort_by_key(|f| !model_paths.iter().any(|m| f.starts_with(m)));
    let mut globs: Vec<Vec<String>> = vec![Vec::new(); slices];
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for file in ordered {
        let Holder::One(i) = holder(file) else {
            continue;
        };
        let whole = file
            .match_indices('/')
            .map(|(at, _)| &file[..=at])
            .filter(|folder| folder.len() > project_dir.len() && !kind_roots.contains(folder))
            .find(|folder| folders.get(folder) == Some(&Holder::One(i)));
        let (dir, ext) = dir_ext(file);
        let glob = match whole {
            Some(folder) => escape(folder),
            None => match by_ext.get(&(dir, ext)) {
                Some((count, Holder::One(_)))
                    if *count >= 2 && !ext.is_empty() && !kind_roots.contains(dir) =>
                {
                    format!("{}*.{}", escape(dir), escape(ext))
                }
                _ => escape(file),
            },
        };
        if seen.insert(glob.clone()) {
            globs[i].push(glob);
        }
    }
    globs
}

/// A file's folder (ending in `/`, or `""`) and extension (or `""`).
fn dir_ext(file: &str) -> (&str, &str) {
    let (dir, name) = match file.rfind('/') {
        Some(at) => (&file[..=at], &file[at + 1..]),
        None => ("", file),
    };
    let ext = match name.rfind('.') {
        Some(at) if at > 0 => &name[at + 1..],
        _ => "",
    };
    (dir, ext)
}

/// A path as a glob that matches only itself.
fn escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '*' | '?' | '[' | ']' | '{' | '}' => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            _ => out.push(c),
        }
    }
    out
}

/// The files no one slice owns: shared ones one by one, naming the slices;
/// the others by place and kind, with what to do.
fn left_over(
    project: &Project,
    targets: &BTreeMap<&str, Target>,
    names: &[crate::domain::SliceName],
) -> (Vec<Shared>, Vec<Unowned>) {
    let mut shared = Vec::new();
    let mut places: BTreeMap<(String, Kind), usize> = BTreeMap::new();
    for (path, target) in targets {
        match target {
            Target::Slice(_) => {}
            Target::Shared(kind, slices) => {
                let slices: Vec<_> = slices.iter().map(|i| names[*i].clone()).collect();
                let list = and_list(&slices.iter().map(|s| s.to_string()).collect::<Vec<_>>());
                shared.push(Shared {
                    path: (*path).to_owned(),
                    kind: *kind,
                    advice: shared_advice(*kind, &list),
                    slices,
                });
            }
            Target::Unowned(kind) => {
                let place = match kind {
                    Kind::Yaml | Kind::Docs | Kind::Model => path
                        .rfind('/')
                        .map_or_else(|| (*path).to_owned(), |at| path[..=at].to_owned()),
                    _ => project.layout.place(path, *kind),
                };
                *places.entry((place, *kind)).or_default() += 1;
            }
        }
    }
    let unowned = places
        .into_iter()
        .map(|((path, kind), files)| Unowned {
            advice: unowned_advice(kind, project.layout.project.is_some(), &path).to_owned(),
            path,
            kind,
            files,
        })
        .collect();
    (shared, unowned)
}

fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn shared_advice(kind: Kind, slices: &str) -> String {
    match kind {
        Kind::Yaml => format!(
            "documents models of {slices}: split it, one YAML per slice's models, or leave it shared (an edit is flagged outside)"
        ),
        Kind::Test => format!(
            "tests models of {slices}, and none comes after the others: give it to the slice that should run it"
        ),
        Kind::Seed | Kind::Snapshot => format!(
            "read by {slices}: leave it out, or give it to one of them (the others come after it)"
        ),
        _ => format!("reads models of {slices}: give it to one of them"),
    }
}

fn unowned_advice(kind: Kind, dbt: bool, place: &str) -> &'static str {
    match kind {
        Kind::Outside if !dbt && !place.ends_with('/') => {
            "a file at the root: keep it out of every slice, or give it to the slice that must change it"
        }
        Kind::Outside if !dbt => "add a slice for it if agents must change it",
        Kind::Outside => "outside the dbt project: add a slice for it if agents must change it",
        Kind::Macro => {
            "macros: shared by every slice; changes need a slice of their own (or the operator)"
        }
        Kind::Seed => "seeds no model reads: give them to the slice that will read them",
        Kind::Snapshot => {
            "snapshots no model reads: give them to the slice that owns their sources"
        }
        Kind::Analysis => {
            "analyses that read no model: give them to the slice owning what they read"
        }
        Kind::Test => {
            "singular tests that ref no model: give each to the slice owning what it tests"
        }
        Kind::Yaml => {
            "YAML of no model (sources no model reads, exposures): give it to a slice if agents must change it"
        }
        Kind::Docs | Kind::Model => {
            "beside models of several slices: give each file to one of them, or keep it out"
        }
        Kind::Project => "project files: keep them out of every slice",
        Kind::Other => {
            "in the dbt project but on none of its paths: add it to a slice if agents must change it"
        }
    }
}
