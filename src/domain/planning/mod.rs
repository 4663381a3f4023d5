//! Proposing slices from a dbt project's models (`sliceboard plan
//! --from-dbt`) or any repository's files (`sliceboard plan`, files as
//! models with no refs): by folder (grouped, split or merged to about the
//! number of slices asked for, balanced by model count, a folder with no
//! subfolders left cut into file lists; groups in a ref cycle merged, and
//! the proposal says why) or by the DAG (runs of models by depth, each cut
//! where the fewest refs cross near its balanced place); `after` from the
//! refs between slices. Pure: the command line reads the manifest.
//!
//! `folders` holds the grouping by folder and the one rule for slices from
//! a repository's folders that `init` and `plan` share (`from_folders`);
//! `dag` the grouping by the DAG. Neither reads a file, runs dbt or knows
//! the plan file's text.

mod dag;
mod folders;

use std::collections::BTreeSet;

use serde::Serialize;

use super::slice::SliceName;

pub use dag::by_dag;
pub use folders::{
    FolderProposal, MAX_PER_FOLDER, SliceCount, by_folder, folder_root, from_folders,
};

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
