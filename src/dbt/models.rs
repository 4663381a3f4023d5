//! A dbt project's models as its manifest (`target/manifest.json`)
//! describes them: each model's file from the repository root and the
//! models it refs. Read for `sliceboard plan --from-dbt` and for the
//! planner's brief (a summary of the DAG). Never runs dbt.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use anyhow::Context as _;

use crate::domain::planning::{Attached, Kind, Layout, Model, Project, by_folder};

/// The folders (`""` for the root, else ending in `/`) of the dbt projects
/// among a repository's files: each holding a `dbt_project.yml`, installed
/// packages and build output left out.
pub fn find_projects(files: &[String]) -> Vec<String> {
    const NOT_PROJECTS: &[&str] = &[
        "dbt_packages",
        "dbt_modules",
        "node_modules",
        "site-packages",
        "target",
    ];
    files
        .iter()
        .filter_map(|file| file.strip_suffix("dbt_project.yml"))
        .filter(|dir| dir.is_empty() || dir.ends_with('/'))
        .filter(|dir| {
            !dir.split('/')
                .any(|part| NOT_PROJECTS.contains(&part) || part.starts_with('.'))
        })
        .map(str::to_owned)
        .collect()
}

/// `dbt_project.yml`'s paths by kind, with dbt's defaults where it gives
/// none. Reads the plain forms (`model-paths: ["models"]` and a list of
/// `- models` lines); anything else keeps the default.
pub fn project_paths(text: &str) -> Vec<(Kind, Vec<String>)> {
    const KEYS: &[(&str, Kind, &str)] = &[
        ("model-paths", Kind::Model, "models"),
        ("seed-paths", Kind::Seed, "seeds"),
        ("test-paths", Kind::Test, "tests"),
        ("analysis-paths", Kind::Analysis, "analyses"),
        ("macro-paths", Kind::Macro, "macros"),
        ("snapshot-paths", Kind::Snapshot, "snapshots"),
    ];
    let unquote = |v: &str| v.trim().trim_matches(|c| c == '"' || c == '\'').to_owned();
    let lines: Vec<&str> = text.lines().collect();
    KEYS.iter()
        .map(|(key, kind, default)| {
            let mut found: Vec<String> = Vec::new();
            if let Some(at) = lines
                .iter()
                .position(|l| l.starts_with(key) && l[key.len()..].trim_start().starts_with(':'))
            {
                let value = lines[at].split_once(':').map_or("", |(_, v)| v).trim();
                if let Some(list) = value.strip_prefix('[') {
                    let list = list.split(']').next().unwrap_or("");
                    found = list
                        .split(',')
                        .map(unquote)
                        .filter(|v| !v.is_empty())
                        .collect();
                } else if value.is_empty() {
                    found = lines[at + 1..]
                        .iter()
                        .map(|l| l.trim())
                        .take_while(|l| l.starts_with('-') || l.is_empty())
                        .filter_map(|l| l.strip_prefix('-').map(unquote))
                        .filter(|v| !v.is_empty())
                        .collect();
                } else {
                    found = vec![unquote(value)];
                }
            }
            if found.is_empty() {
                found.push((*default).to_owned());
            }
            (*kind, found)
        })
        .collect()
}

/// The root project's name from `dbt_project.yml` (`name: shop`).
fn project_name(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("name:"))
        .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\'').to_owned())
}

/// The project at `prefix` (`""` or ending in `/`) as its manifest
/// describes it: only the root package's models (a package's models are
/// installed, not the project's), each with the project's own models it
/// refs, directly or through a package's models; the files that follow
/// them (YAML, singular tests, seeds, snapshots, analyses), paths from the
/// repository root; `files`, the repository's files, for ownership.
pub fn read_project(
    project_dir: &Path,
    prefix: &str,
    files: Vec<String>,
) -> anyhow::Result<Project> {
    #[derive(serde::Deserialize, Default)]
    struct Metadata {
        project_name: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Manifest {
        #[serde(default)]
        metadata: Metadata,
        nodes: HashMap<String, Node>,
        #[serde(default)]
        sources: HashMap<String, Node>,
        #[serde(default)]
        exposures: HashMap<String, Node>,
        #[serde(default)]
        unit_tests: HashMap<String, Node>,
        #[serde(default)]
        semantic_models: HashMap<String, Node>,
        #[serde(default)]
        saved_queries: HashMap<String, Node>,
    }
    #[derive(serde::Deserialize)]
    struct Node {
        #[serde(default)]
        resource_type: String,
        #[serde(default)]
        package_name: String,
        #[serde(default)]
        original_file_path: String,
        #[serde(default)]
        patch_path: Option<String>,
        #[serde(default)]
        depends_on: DependsOn,
    }
    #[derive(serde::Deserialize, Default)]
    struct DependsOn {
        #[serde(default)]
        nodes: Vec<String>,
    }
    let config = std::fs::read_to_string(project_dir.join("dbt_project.yml")).unwrap_or_default();
    let manifest = project_dir.join("target").join("manifest.json");
    let file = std::fs::File::open(&manifest)
        .with_context(|| format!("cannot read {}", manifest.display()))?;
    let parsed: Manifest = serde_json::from_reader(std::io::BufReader::new(file))
        .with_context(|| format!("{} is not a dbt manifest", manifest.display()))?;
    let root_package = parsed
        .metadata
        .project_name
        .or_else(|| project_name(&config))
        .unwrap_or_default();
    let own = |n: &Node| n.package_name == root_package;
    let at = |p: &str| format!("{prefix}{p}");
    // `pkg://models/x.yml` names a YAML of the package.
    let patch = |n: &Node| {
        n.patch_path
            .as_deref()
            .and_then(|p| p.split_once("://"))
            .map(|(_, p)| at(p))
    };

    // A model's own-project models, through packages' models.
    let nodes = &parsed.nodes;
    let mut through: HashMap<&str, BTreeSet<String>> = HashMap::new();
    fn reach<'a>(
        id: &'a str,
        nodes: &'a HashMap<String, Node>,
        own: &dyn Fn(&Node) -> bool,
        memo: &mut HashMap<&'a str, BTreeSet<String>>,
        seen: &mut BTreeSet<&'a str>,
    ) -> BTreeSet<String> {
        if let Some(done) = memo.get(id) {
            return done.clone();
        }
        let mut found = BTreeSet::new();
        if !seen.insert(id) {
            return found;
        }
        if let Some(node) = nodes.get(id) {
            for dep in &node.depends_on.nodes {
                match nodes.get(dep.as_str()) {
                    Some(d) if d.resource_type == "model" && own(d) => {
                        found.insert(dep.clone());
                    }
                    Some(d) if d.resource_type == "model" => {
                        found.extend(reach(dep, nodes, own, memo, seen));
                    }
                    _ => {}
                }
            }
        }
        memo.insert(id, found.clone());
        found
    }
    let mut models: Vec<Model> = Vec::new();
    let mut attached: Vec<Attached> = Vec::new();
    let mut readers: HashMap<&str, BTreeSet<String>> = HashMap::new();
    for (id, node) in nodes.iter().filter(|(_, n)| own(n)) {
        let refs = reach(id, nodes, &own, &mut through, &mut BTreeSet::new());
        match node.resource_type.as_str() {
            "model" => {
                for dep in &node.depends_on.nodes {
                    readers.entry(dep.as_str()).or_default().insert(id.clone());
                }
                if let Some(yaml) = patch(node) {
                    attached.push(Attached {
                        path: yaml,
                        kind: Kind::Yaml,
                        models: BTreeSet::from([id.clone()]),
                    });
                }
                models.push(Model {
                    id: id.clone(),
                    path: at(&node.original_file_path),
                    depends_on: refs.into_iter().collect(),
                });
            }
            "test" | "analysis" => {
                let kind = match node.resource_type.as_str() {
                    _ if node.original_file_path.ends_with(".yml")
                        || node.original_file_path.ends_with(".yaml") =>
                    {
                        Kind::Yaml
                    }
                    "test" => Kind::Test,
                    _ => Kind::Analysis,
                };
                attached.push(Attached {
                    path: at(&node.original_file_path),
                    kind,
                    models: refs,
                });
            }
            _ => {}
        }
    }
    // Seeds, snapshots and sources follow the models that read them.
    for (id, node) in nodes.iter().chain(&parsed.sources).filter(|(_, n)| own(n)) {
        let kind = match node.resource_type.as_str() {
            "seed" => Kind::Seed,
            "snapshot" => Kind::Snapshot,
            "source" => Kind::Yaml,
            _ => continue,
        };
        let read_by = readers.get(id.as_str()).cloned().unwrap_or_default();
        if let Some(yaml) = patch(node) {
            attached.push(Attached {
                path: yaml,
                kind: Kind::Yaml,
                models: read_by.clone(),
            });
        }
        attached.push(Attached {
            path: at(&node.original_file_path),
            kind,
            models: read_by,
        });
    }
    // Unit tests, exposures, semantic models and saved queries live in YAML.
    for node in parsed
        .unit_tests
        .values()
        .chain(parsed.exposures.values())
        .chain(parsed.semantic_models.values())
        .chain(parsed.saved_queries.values())
        .filter(|n| own(n))
    {
        let refs = node
            .depends_on
            .nodes
            .iter()
            .filter(|d| {
                nodes
                    .get(d.as_str())
                    .is_some_and(|n| n.resource_type == "model" && own(n))
            })
            .cloned()
            .collect();
        attached.push(Attached {
            path: at(&node.original_file_path),
            kind: Kind::Yaml,
            models: refs,
        });
    }
    models.sort_by(|a, b| a.path.cmp(&b.path));
    attached.sort_by(|a, b| a.path.cmp(&b.path));
    let inside = |f: &String| {
        f.strip_prefix(prefix).is_none_or(|rest| {
            !["dbt_packages/", "dbt_modules/", "target/", "logs/"]
                .iter()
                .any(|skip| rest.starts_with(skip))
        })
    };
    let files = files.into_iter().filter(inside).collect();
    Ok(Project {
        models,
        attached,
        files,
        layout: Layout::dbt(prefix, &project_paths(&config)),
    })
}

/// The folder every model is under (`models/`, or the project's prefix).
pub fn common_root(models: &[Model], prefix: &str) -> String {
    let first = |m: &Model| {
        m.path
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_once('/'))
            .map(|(dir, _)| dir.to_owned())
    };
    let dirs: std::collections::BTreeSet<Option<String>> = models.iter().map(first).collect();
    match dirs.into_iter().collect::<Vec<_>>().as_slice() {
        [Some(dir)] => format!("{prefix}{dir}/"),
        _ => prefix.to_owned(),
    }
}

/// What the planner reads about the DAG: models per folder, refs between
/// folders, and a split by folder into about `slices` slices. From the
/// manifest as it is (stale or missing: says how to make it); `None`
/// without a dbt project.
pub fn dag_summary(root: &Path, project_dir: &Path, slices: usize) -> Option<String> {
    let project = root.join(project_dir);
    if !project.join("dbt_project.yml").is_file() {
        return None;
    }
    let dir = project_dir.to_string_lossy();
    let dir = dir.trim_start_matches("./").trim_matches('/');
    let prefix = if dir.is_empty() || dir == "." {
        String::new()
    } else {
        format!("{dir}/")
    };
    let manifest = project.join("target").join("manifest.json");
    let project = match read_project(&project, &prefix, Vec::new()) {
        Ok(project) if !project.models.is_empty() => project,
        _ => {
            return Some(format!(
                "## The dbt DAG\n\nNo manifest at `{}` yet: run `dbt parse` there, or `sliceboard plan --from-dbt --dry-run`, which parses and proposes a split.\n",
                manifest.display()
            ));
        }
    };
    let models = &project.models;
    let models_root = common_root(models, &prefix);
    let folder = |path: &str| -> String {
        let rest = path.strip_prefix(models_root.as_str()).unwrap_or(path);
        match rest.split_once('/') {
            Some((dir, _)) => format!("{models_root}{dir}/"),
            None => models_root.clone(),
        }
    };
    let folder_of: BTreeMap<&str, String> = models
        .iter()
        .map(|m| (m.id.as_str(), folder(&m.path)))
        .collect();
    let mut per_folder: BTreeMap<&str, usize> = BTreeMap::new();
    for f in folder_of.values() {
        *per_folder.entry(f.as_str()).or_default() += 1;
    }
    let mut edges: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for model in models {
        let from = folder_of[model.id.as_str()].as_str();
        for dep in &model.depends_on {
            if let Some(to) = folder_of.get(dep.as_str()).filter(|to| to.as_str() != from) {
                *edges.entry((from, to.as_str())).or_default() += 1;
            }
        }
    }
    let mut out = format!(
        "## The dbt DAG\n\n{} models (from `{}`).\n\nModels per folder:\n\n",
        models.len(),
        manifest.display()
    );
    for (f, n) in &per_folder {
        out.push_str(&format!("- `{f}`: {n}\n"));
    }
    out.push_str("\nRefs between folders (a model in the first refs one in the second):\n\n");
    if edges.is_empty() {
        out.push_str("- none\n");
    }
    for ((from, to), n) in &edges {
        out.push_str(&format!("- `{from}` → `{to}`: {n}\n"));
    }
    let proposal = by_folder(&project, &models_root, slices);
    out.push_str(&format!(
        "\nA split by folder into about {slices} slices (`sliceboard plan --from-dbt` writes it as a plan):\n\n"
    ));
    for slice in &proposal.slices {
        let after: BTreeSet<String> = slice.after.iter().map(|s| format!("`{s}`")).collect();
        out.push_str(&format!(
            "- `{}`: owns {} ({} models){}\n",
            slice.name,
            slice
                .owns
                .iter()
                .map(|g| format!("`{g}`"))
                .collect::<Vec<_>>()
                .join(", "),
            slice.models,
            if after.is_empty() {
                String::new()
            } else {
                format!(
                    ", after {}",
                    after.into_iter().collect::<Vec<_>>().join(", ")
                )
            }
        ));
    }
    for note in &proposal.notes {
        out.push_str(&format!("\nNote: {note}\n"));
    }
    Some(out)
}
