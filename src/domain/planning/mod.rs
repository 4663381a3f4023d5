//! Proposing slices from a dbt project's models (`sliceboard plan
//! --from-dbt`) or any repository's files (`sliceboard plan`, files as
//! models with no refs): by folder (first-level folders, the largest split
//! at its subfolders or, when that would put one group on both sides of
//! another, cut along the DAG; then the smallest merged where no cycle
//! follows, siblings first) or by the DAG (runs of models by depth, each
//! cut where the fewest refs cross near its balanced place). Either way
//! the groups become slices in `finish`: written upstream first, named for
//! what they hold, every file of the project given to the slice that owns
//! its models (a model's YAML, its singular tests, the seeds only it reads)
//! or listed with the reason no slice owns it, and the proposal's quality
//! measured. Pure: the command line reads the manifest and the files.
//!
//! `folders` holds the grouping by folder and the one rule for slices from
//! a repository's folders that `init` and `plan` share (`from_folders`);
//! `dag` the grouping by the DAG; `finish` what both become. None reads a
//! file, runs dbt or knows the plan file's text.

mod dag;
mod finish;
mod folders;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::slice::SliceName;

pub use dag::by_dag;
pub use finish::{Kind, Layout};
pub use folders::{
    FolderProposal, MAX_PER_FOLDER, SliceCount, by_folder, folder_root, from_folders,
};

/// A model as the manifest describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    pub id: String,
    /// Its file, relative to the repository root.
    pub path: String,
    /// The project's own models it refs, directly or through a package's
    /// models (other nodes are left out).
    pub depends_on: Vec<String>,
}

/// A file of the project that is not a model but follows models: a YAML
/// that documents or tests them (or declares the sources they read), a
/// singular test, a seed or snapshot they read, an analysis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    /// Relative to the repository root.
    pub path: String,
    pub kind: Kind,
    /// The project's models it documents, tests, reads or is read by.
    pub models: BTreeSet<String>,
}

/// What slices are cut from: the models, the files that follow them, and
/// every file of the repository (as the base branch holds them) with the
/// layout that says what each is.
#[derive(Debug, Clone, Default)]
pub struct Project {
    pub models: Vec<Model>,
    pub attached: Vec<Attached>,
    pub files: Vec<String>,
    pub layout: Layout,
}

/// A proposed slice: the folders it owns whole (`models/staging/`), the
/// files of a folder it owns by kind (`models/marts/*.sql`) or one by one,
/// its model count, the refs into and out of it, and the slices it comes
/// after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Proposed {
    pub name: SliceName,
    pub owns: Vec<String>,
    pub models: usize,
    /// The YAML files it owns.
    pub yaml: usize,
    /// Refs from other slices' models to this slice's.
    pub refs_in: usize,
    /// Refs from this slice's models to other slices'.
    pub refs_out: usize,
    pub after: Vec<SliceName>,
}

/// A file that documents or tests models of several slices, so no one
/// slice owns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shared {
    pub path: String,
    pub kind: Kind,
    pub slices: Vec<SliceName>,
    pub advice: String,
}

/// Files no slice owns, by place (a folder or a file), with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unowned {
    pub path: String,
    pub kind: Kind,
    pub files: usize,
    pub advice: String,
}

/// How good a proposal is, in numbers a lead can compare.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Quality {
    /// Refs from one slice's model to another slice's.
    pub crossing_refs: usize,
    /// Models in the largest slice, and the mean.
    pub largest: usize,
    pub mean: f64,
    /// Files no slice owns, by kind (shared files counted apart).
    pub unowned: BTreeMap<Kind, usize>,
    /// YAML files that document models of several slices.
    pub shared_yaml: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Proposal {
    /// Upstream first: a slice comes after only slices above it.
    pub slices: Vec<Proposed>,
    /// What the proposal had to decide (groups merged to break a cycle).
    pub notes: Vec<String>,
    pub shared: Vec<Shared>,
    pub unowned: Vec<Unowned>,
    pub quality: Quality,
}

/// Valid, unique slice names from labels (`staging`, `staging-2`, …).
pub(super) fn unique_names(labels: &[String]) -> Vec<SliceName> {
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
pub(super) fn find_cycle(edges: &[BTreeSet<usize>]) -> Option<Vec<usize>> {
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

    /// A project of `models` whose files are the models' files and `more`.
    fn project_of(models: Vec<Model>, more: &[&str]) -> Project {
        let mut files: Vec<String> = models.iter().map(|m| m.path.clone()).collect();
        files.extend(more.iter().map(|f| (*f).to_owned()));
        Project {
            models,
            attached: Vec::new(),
            files,
            layout: Layout::dbt(
                "",
                &[
                    (Kind::Model, vec!["models".into()]),
                    (Kind::Seed, vec!["seeds".into()]),
                    (Kind::Test, vec!["tests".into()]),
                    (Kind::Macro, vec!["macros".into()]),
                ],
            ),
        }
    }

    fn project() -> Project {
        project_of(
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
            ],
            &[],
        )
    }

    fn summary(proposal: &Proposal) -> Vec<(&str, Vec<&str>, Vec<&str>)> {
        proposal
            .slices
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.owns.iter().map(String::as_str).collect(),
                    s.after.iter().map(SliceName::as_str).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn folders_become_slices_upstream_first_after_only_what_is_not_implied() {
        let proposal = by_folder(&project(), "models/", 3);
        assert_eq!(
            summary(&proposal),
            [
                ("staging", vec!["models/staging/"], vec![]),
                (
                    "intermediate",
                    vec!["models/intermediate/"],
                    vec!["staging"]
                ),
                // marts refs staging too, but after intermediate implies it.
                ("marts", vec!["models/marts/"], vec!["intermediate"]),
            ]
        );
        let marts = &proposal.slices[2];
        assert_eq!((marts.refs_in, marts.refs_out), (0, 2));
        assert_eq!(proposal.quality.crossing_refs, 4);
        assert_eq!(proposal.quality.largest, 3);
    }

    #[test]
    fn more_slices_split_the_largest_folder_and_fewer_merge_without_a_cycle() {
        let four = by_folder(&project(), "models/", 4);
        let names: Vec<&str> = four.slices.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["staging-catalog", "staging-core", "intermediate", "marts"]
        );
        let one = by_folder(&project(), "models/", 1);
        assert_eq!(one.slices.len(), 1);
        assert_eq!(one.slices[0].models, 6);
        assert!(one.slices[0].after.is_empty());
        // Two: staging and marts together would put intermediate on both
        // sides, so the merges follow the DAG.
        let two = by_folder(&project(), "models/", 2);
        assert!(two.notes.is_empty(), "{:?}", two.notes);
        for slice in &two.slices {
            assert!(
                !(slice.owns.contains(&"models/staging/".to_owned())
                    && slice.owns.contains(&"models/marts/".to_owned())),
                "{:?}",
                two.slices
            );
        }
    }

    #[test]
    fn a_real_cycle_between_folders_merges_them_and_says_why() {
        let models = vec![
            model("a", "models/one/a.sql", &["b"]),
            model("b", "models/two/b.sql", &["c"]),
            model("c", "models/one/c.sql", &[]),
            model("d", "models/three/d.sql", &["a"]),
        ];
        // Asked for two: one and two are one slice.
        let proposal = by_folder(&project_of(models.clone(), &[]), "models/", 2);
        assert!(proposal.notes[0].contains("cycle"), "{:?}", proposal.notes);
        assert_eq!(
            summary(&proposal),
            [
                ("one-two", vec!["models/one/", "models/two/"], vec![]),
                ("three", vec!["models/three/"], vec!["one-two"]),
            ]
        );
        // Asked for three: cut along the DAG, never by the two folders.
        let proposal = by_folder(&project_of(models, &[]), "models/", 3);
        assert_eq!(proposal.slices.len(), 3);
        for slice in &proposal.slices {
            assert!(!slice.owns.contains(&"models/one/".to_owned()), "{slice:?}");
        }
    }

    /// Staging, a big intermediate folder with subfolders, marts, and two
    /// small folders on either side of intermediate: utilities (read by
    /// intermediate) and reports (reading marts).
    fn layered() -> Project {
        let mut models = Vec::new();
        for i in 0..4 {
            models.push(model(
                &format!("util_{i}"),
                &format!("models/utilities/util_{i}.sql"),
                &[],
            ));
        }
        for i in 0..20 {
            models.push(model(
                &format!("stg_{i}"),
                &format!("models/staging/stg_{i}.sql"),
                &[],
            ));
        }
        for domain in ["finance", "sales", "product"] {
            for i in 0..20 {
                let deps = [format!("stg_{i}"), format!("util_{}", i % 4)];
                let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
                models.push(model(
                    &format!("int_{domain}_{i}"),
                    &format!("models/intermediate/{domain}/int_{domain}_{i}.sql"),
                    &deps,
                ));
            }
        }
        for i in 0..20 {
            let dep = format!("int_finance_{i}");
            models.push(model(
                &format!("fct_{i}"),
                &format!("models/marts/fct_{i}.sql"),
                &[&dep],
            ));
        }
        for i in 0..4 {
            let dep = format!("fct_{i}");
            models.push(model(
                &format!("rpt_{i}"),
                &format!("models/reports/rpt_{i}.sql"),
                &[&dep],
            ));
        }
        project_of(models, &[])
    }

    #[test]
    fn small_folders_on_both_sides_of_another_are_never_merged_and_slices_stay_balanced() {
        let project = layered();
        for target in [2, 3, 4, 6, 8] {
            let proposal = by_folder(&project, "models/", target);
            assert!(proposal.notes.is_empty(), "{target}: {:?}", proposal.notes);
            for slice in &proposal.slices {
                let owns = slice.owns.join(" ");
                assert!(
                    !(owns.contains("models/utilities/") && owns.contains("models/reports/")),
                    "{target}: {slice:?}"
                );
                assert!(slice.models > 0);
            }
            if target >= 4 {
                let q = &proposal.quality;
                assert!(
                    q.largest as f64 <= 2.0 * q.mean,
                    "{target}: largest {} mean {}: {:?}",
                    q.largest,
                    q.mean,
                    summary(&proposal)
                );
            }
        }
    }

    #[test]
    fn a_flat_folder_is_cut_into_balanced_file_lists() {
        // Airflow DAG files in one folder, and a second folder.
        let mut models: Vec<Model> = (1..=9)
            .map(|i| model(&format!("d{i}"), &format!("dags/etl_{i}.py"), &[]))
            .collect();
        models.push(model("p", "plugins/hooks.py", &[]));
        let project = Project {
            files: models.iter().map(|m| m.path.clone()).collect(),
            models,
            ..Project::default()
        };
        let proposal = by_folder(&project, "", 4);
        let got: Vec<(&str, Vec<&str>)> = proposal
            .slices
            .iter()
            .map(|s| (s.name.as_str(), s.owns.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "dags",
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
        let two = by_folder(&project, "", 2);
        assert_eq!(two.slices[0].owns, ["dags/"]);
    }

    #[test]
    fn by_the_dag_runs_are_cut_where_fewest_refs_cross_and_named_for_what_they_hold() {
        // In depth order: stg_c, stg_a, stg_b | int_x, dim_z | fct_y. A cut
        // at the depth boundary (after stg_b) would cross three refs
        // (int_x to stg_a and stg_c, dim_z to stg_b); after stg_c, one.
        let proposal = by_dag(&project(), "models/", 3);
        assert_eq!(
            summary(&proposal),
            [
                ("staging-catalog", vec!["models/staging/catalog/"], vec![]),
                (
                    "staging-to-marts",
                    vec![
                        "models/intermediate/",
                        "models/marts/finance/dim_z.sql",
                        "models/staging/core/"
                    ],
                    vec!["staging-catalog"]
                ),
                (
                    "marts-finance",
                    vec!["models/marts/finance/fct_y.sql"],
                    vec!["staging-to-marts"]
                ),
            ]
        );
        // No slice is named after a layer it holds no model of.
        for slice in &by_dag(&layered(), "models/", 5).slices {
            for layer in ["staging", "utilities", "intermediate", "marts", "reports"] {
                if slice.name.as_str().contains(layer) {
                    assert!(
                        slice.owns.iter().any(|g| g.contains(&format!("/{layer}/"))),
                        "{slice:?}"
                    );
                }
            }
        }
        // Where no place crosses fewer refs, a depth boundary wins.
        let chain = vec![
            model("a", "models/a.sql", &[]),
            model("b", "models/b.sql", &["a"]),
            model("c", "models/c.sql", &["b"]),
            model("d", "models/d.sql", &["c"]),
        ];
        let two = by_dag(&project_of(chain, &[]), "models/", 2);
        assert_eq!(two.slices[0].owns, ["models/a.sql", "models/b.sql"]);
    }

    #[test]
    fn every_file_goes_with_its_models_or_says_why_not() {
        let mut project = project_of(
            vec![
                model("stg_a", "models/staging/stg_a.sql", &[]),
                model("stg_b", "models/staging/stg_b.sql", &[]),
                model("fct_y", "models/marts/fct_y.sql", &["stg_a"]),
                model("fct_z", "models/marts/fct_z.sql", &["stg_b"]),
            ],
            &[
                "models/staging/_stg.yml",
                "models/marts/_marts.yml",
                "models/marts/docs.md",
                "models/_everything.yml",
                "tests/assert_y.sql",
                "tests/assert_both.sql",
                "seeds/codes.csv",
                "seeds/unused.csv",
                "macros/cents.sql",
                "dbt_project.yml",
                "airflow/dag.py",
            ],
        );
        let attach = |path: &str, kind: Kind, models: &[&str]| Attached {
            path: path.into(),
            kind,
            models: models.iter().map(|m| (*m).to_owned()).collect(),
        };
        project.attached = vec![
            attach("models/staging/_stg.yml", Kind::Yaml, &["stg_a", "stg_b"]),
            attach("models/marts/_marts.yml", Kind::Yaml, &["fct_y"]),
            attach("models/_everything.yml", Kind::Yaml, &["stg_a", "fct_z"]),
            attach("tests/assert_y.sql", Kind::Test, &["fct_y"]),
            attach("tests/assert_both.sql", Kind::Test, &["stg_a", "fct_y"]),
            attach("seeds/codes.csv", Kind::Seed, &["stg_a"]),
            attach("seeds/unused.csv", Kind::Seed, &[]),
        ];
        let proposal = by_folder(&project, "models/", 2);
        assert_eq!(
            summary(&proposal),
            [
                (
                    "staging",
                    vec!["models/staging/", "seeds/codes.csv"],
                    vec![]
                ),
                (
                    "marts",
                    vec![
                        "models/marts/",
                        "tests/assert_both.sql",
                        "tests/assert_y.sql"
                    ],
                    vec!["staging"]
                ),
            ]
        );
        assert_eq!(proposal.slices[0].yaml, 1);
        assert_eq!(proposal.shared.len(), 1);
        let shared = &proposal.shared[0];
        assert_eq!(shared.path, "models/_everything.yml");
        let names: Vec<&str> = shared.slices.iter().map(SliceName::as_str).collect();
        assert_eq!(names, ["staging", "marts"]);
        assert!(
            shared.advice.contains("staging and marts"),
            "{}",
            shared.advice
        );
        let unowned: Vec<(&str, Kind, usize)> = proposal
            .unowned
            .iter()
            .map(|u| (u.path.as_str(), u.kind, u.files))
            .collect();
        assert_eq!(
            unowned,
            [
                // At the repository root, the project holds every folder.
                ("airflow/", Kind::Other, 1),
                ("dbt_project.yml", Kind::Project, 1),
                ("macros/", Kind::Macro, 1),
                ("seeds/", Kind::Seed, 1),
            ]
        );
        assert_eq!(proposal.quality.shared_yaml, 1);
        assert_eq!(proposal.quality.unowned[&Kind::Macro], 1);
    }

    #[test]
    fn a_repositorys_folders_one_slice_each_or_about_as_many_as_asked() {
        let files = |raw: &[&str]| -> Vec<String> { raw.iter().map(|f| f.to_string()).collect() };
        let owns = |p: &FolderProposal| -> Vec<Vec<String>> {
            p.proposal.slices.iter().map(|s| s.owns.clone()).collect()
        };
        // A dbt project: the folders under its models/, not macros/ or a
        // model directly in models/.
        let dbt = files(&[
            "dbt_project.yml",
            "macros/m.sql",
            "models/marts/b.sql",
            "models/root.sql",
            "models/staging/a.sql",
        ]);
        let proposal = from_folders(&dbt, SliceCount::PerFolder);
        assert_eq!(
            (proposal.root.as_str(), proposal.files, proposal.folders),
            ("models/", 2, 2)
        );
        assert_eq!(owns(&proposal), [["models/marts/"], ["models/staging/"]]);
        // Any repository: its top-level folders, hidden ones and root files
        // left out; past MAX_PER_FOLDER folders the smallest are merged, so
        // every folder is some slice's.
        let mut many: Vec<String> = (0..10).map(|i| format!("f{i}/x")).collect();
        many.extend(files(&[".github/ci.yml", "README.md", "f9/y"]));
        let proposal = from_folders(&many, SliceCount::PerFolder);
        assert_eq!(proposal.root, "");
        assert_eq!(proposal.proposal.slices.len(), MAX_PER_FOLDER);
        let owned: Vec<String> = owns(&proposal).concat();
        assert_eq!(owned.len(), 10, "{owned:?}");
        assert!(!owned.iter().any(|o| o.starts_with('.')), "{owned:?}");
        // Asked for more, the folder with most files is cut.
        let about = from_folders(
            &files(&["dags/a.py", "dags/b.py", "plugins/p.py"]),
            SliceCount::About(3),
        );
        assert_eq!(
            owns(&about),
            [vec!["dags/a.py"], vec!["dags/b.py"], vec!["plugins/"]]
        );
    }
}
