//! A dbt project's models as its manifest (`target/manifest.json`)
//! describes them: each model's file from the repository root and the
//! models it refs. Read for `sliceboard plan --from-dbt` and for the
//! planner's brief (a summary of the DAG). Never runs dbt.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::domain::planning::{Model, by_folder};

/// `dbt_project.yml` at the root, else in a folder one level down.
pub fn find_project(root: &Path) -> Option<PathBuf> {
    if root.join("dbt_project.yml").is_file() {
        return Some(root.to_owned());
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(root)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("dbt_project.yml").is_file())
        .collect();
    found.sort();
    found.into_iter().next()
}

/// The project's models, with their files from the repository root and
/// the models they ref.
pub fn read_models(manifest: &Path, prefix: &str) -> anyhow::Result<Vec<Model>> {
    #[derive(serde::Deserialize)]
    struct Manifest {
        nodes: std::collections::HashMap<String, Node>,
    }
    #[derive(serde::Deserialize)]
    struct Node {
        resource_type: String,
        original_file_path: String,
        #[serde(default)]
        depends_on: DependsOn,
    }
    #[derive(serde::Deserialize, Default)]
    struct DependsOn {
        #[serde(default)]
        nodes: Vec<String>,
    }
    let file = std::fs::File::open(manifest)
        .with_context(|| format!("cannot read {}", manifest.display()))?;
    let parsed: Manifest = serde_json::from_reader(std::io::BufReader::new(file))
        .with_context(|| format!("{} is not a dbt manifest", manifest.display()))?;
    let mut models: Vec<Model> = parsed
        .nodes
        .into_iter()
        .filter(|(_, n)| n.resource_type == "model")
        .map(|(id, n)| Model {
            id,
            path: format!("{prefix}{}", n.original_file_path),
            depends_on: n
                .depends_on
                .nodes
                .into_iter()
                .filter(|d| d.starts_with("model."))
                .collect(),
        })
        .collect();
    models.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(models)
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
pub fn dag_summary(root: &Path, slices: usize) -> Option<String> {
    let project = find_project(root)?;
    let dir = project
        .strip_prefix(root)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let manifest = project.join("target").join("manifest.json");
    let models = match read_models(&manifest, &prefix) {
        Ok(models) if !models.is_empty() => models,
        _ => {
            return Some(format!(
                "## The dbt DAG\n\nNo manifest at `{}` yet: run `dbt parse` there, or `sliceboard plan --from-dbt --dry-run`, which parses and proposes a split.\n",
                manifest.display()
            ));
        }
    };
    let models_root = common_root(&models, &prefix);
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
    for model in &models {
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
    let proposal = by_folder(&models, &models_root, slices);
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
