//! Who owns which path: each slice's `owns` globs, compiled once.
//!
//! Globs are matched against paths relative to the repository root, with
//! `/` separators; `*` stays inside one folder, `**` crosses folders, and a
//! pattern ending in `/` means everything under that folder. This module
//! answers "which slices own this path" and "which slices overlap"; where the
//! paths come from (a git tree, a diff) is the caller's business.

use std::collections::BTreeMap;

use globset::{Glob, GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use super::slice::SliceName;

/// How many colliding paths an [`Overlap`] keeps; the rest are only counted.
pub const MAX_EVIDENCE: usize = 5;

#[derive(Debug)]
pub struct Ownership {
    slices: Vec<Owned>,
    /// Every slice's globs in one set, so a path is matched once.
    all: GlobSet,
    /// For each glob of `all`: its slice's index and its own index there.
    glob_of: Vec<(usize, usize)>,
}

#[derive(Debug)]
struct Owned {
    name: SliceName,
    /// The slice this one is a variant of: variants of one slice are
    /// meant to change the same paths, so they never flag each other.
    family: Option<SliceName>,
    globs: Vec<OwnedGlob>,
    set: GlobSet,
}

/// One `owns` glob: as written, compiled, and its matcher, built the first
/// time two slices' globs are compared (most pairs never need it).
#[derive(Debug)]
struct OwnedGlob {
    raw: String,
    glob: Glob,
    matcher: std::sync::OnceLock<GlobMatcher>,
    /// What every path it matches starts with.
    literal: String,
}

impl OwnedGlob {
    fn is_match(&self, text: &str) -> bool {
        text.starts_with(&self.literal)
            && self
                .matcher
                .get_or_init(|| self.glob.compile_matcher())
                .is_match(text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("glob {glob:?} of slice {slice} is not a valid glob: {reason}")]
pub struct BadGlob {
    pub slice: SliceName,
    pub index: usize,
    pub glob: String,
    pub reason: String,
}

/// Two slices that claim the same paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlap {
    pub first: SliceName,
    pub second: SliceName,
    /// Glob pairs `(first's, second's)` where one matches the other as written.
    pub globs: Vec<(String, String)>,
    /// Existing paths both own, at most [`MAX_EVIDENCE`].
    pub paths: Vec<String>,
    /// How many more paths collide beyond `paths`.
    pub more_paths: usize,
}

/// A warning about one path a slice changed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PathFlag {
    /// The slice's `owns` globs do not match the path; `owners` are the
    /// slices whose globs do (none: nobody owns it).
    Outside {
        path: String,
        owners: Vec<SliceName>,
    },
    /// Another slice changed the same path.
    Overlap { path: String, other: SliceName },
}

impl PathFlag {
    pub fn path(&self) -> &str {
        match self {
            PathFlag::Outside { path, .. } | PathFlag::Overlap { path, .. } => path,
        }
    }

    /// One line for a person: what is wrong with the path.
    pub fn describe(&self) -> String {
        match self {
            PathFlag::Outside { owners, .. } if owners.is_empty() => {
                "outside the slice; no slice owns it".into()
            }
            PathFlag::Outside { owners, .. } => format!(
                "outside the slice; owned by {}",
                owners
                    .iter()
                    .map(SliceName::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            PathFlag::Overlap { other, .. } => format!("also changed by {other}"),
        }
    }
}

impl Ownership {
    pub fn new<'a>(
        slices: impl IntoIterator<Item = (&'a SliceName, &'a [String])>,
    ) -> Result<Self, BadGlob> {
        let mut owned = Vec::new();
        let mut all = GlobSetBuilder::new();
        let mut glob_of = Vec::new();
        for (name, globs) in slices {
            let mut matchers = Vec::new();
            let mut set = GlobSetBuilder::new();
            for (index, raw) in globs.iter().enumerate() {
                let glob = compile(raw).map_err(|err| BadGlob {
                    slice: name.clone(),
                    index,
                    glob: raw.clone(),
                    reason: err.kind().to_string(),
                })?;
                let literal = glob
                    .glob()
                    .split(['*', '?', '[', '{', '\\'])
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                matchers.push(OwnedGlob {
                    raw: raw.clone(),
                    glob: glob.clone(),
                    matcher: std::sync::OnceLock::new(),
                    literal,
                });
                all.add(glob.clone());
                glob_of.push((owned.len(), index));
                set.add(glob);
            }
            let set = set.build().map_err(|err| BadGlob {
                slice: name.clone(),
                index: 0,
                glob: globs.join(", "),
                reason: err.to_string(),
            })?;
            owned.push(Owned {
                family: None,
                name: name.clone(),
                globs: matchers,
                set,
            });
        }
        let all = all.build().map_err(|err| BadGlob {
            slice: owned
                .first()
                .map(|o| o.name.clone())
                .unwrap_or_else(|| SliceName::parse("plan").expect("a valid name")),
            index: 0,
            glob: String::new(),
            reason: err.to_string(),
        })?;
        Ok(Self {
            slices: owned,
            all,
            glob_of,
        })
    }

    /// The slices whose globs match `path`, as indices in plan order.
    fn owner_indices(&self, path: &str, hits: &mut Vec<usize>) -> Vec<usize> {
        self.all
            .matches_candidate_into(&globset::Candidate::new(path), hits);
        let mut slices: Vec<usize> = hits.iter().map(|&g| self.glob_of[g].0).collect();
        slices.sort_unstable();
        slices.dedup();
        slices
    }

    /// Each glob that matches none of `paths`, as (slice, glob), in plan
    /// order; every path is matched once against all the globs.
    pub fn unmatched<'p>(
        &self,
        paths: impl IntoIterator<Item = &'p str>,
    ) -> Vec<(&SliceName, &str)> {
        let mut matched = vec![false; self.glob_of.len()];
        let mut left = matched.len();
        let mut hits = Vec::new();
        for path in paths {
            if left == 0 {
                break;
            }
            self.all
                .matches_candidate_into(&globset::Candidate::new(path), &mut hits);
            for &glob in &hits {
                if !matched[glob] {
                    matched[glob] = true;
                    left -= 1;
                }
            }
        }
        self.glob_of
            .iter()
            .zip(matched)
            .filter(|(_, hit)| !hit)
            .map(|(&(slice, index), _)| {
                let owned = &self.slices[slice];
                (&owned.name, owned.globs[index].raw.as_str())
            })
            .collect()
    }

    /// Marks slices as variants of a family (`(variant, family)` pairs).
    pub fn with_families(
        mut self,
        families: impl IntoIterator<Item = (SliceName, SliceName)>,
    ) -> Self {
        for (variant, family) in families {
            if let Some(owned) = self.slices.iter_mut().find(|s| s.name == variant) {
                owned.family = Some(family);
            }
        }
        self
    }

    /// Whether `a` and `b` are variants of one slice.
    pub fn same_family(&self, a: &SliceName, b: &SliceName) -> bool {
        let family = |name: &SliceName| {
            self.slices
                .iter()
                .find(|s| &s.name == name)
                .and_then(|s| s.family.as_ref())
        };
        family(a).is_some() && family(a) == family(b)
    }

    /// The slices whose globs match `path`, in plan order.
    pub fn owners(&self, path: &str) -> Vec<&SliceName> {
        self.owner_indices(path, &mut Vec::new())
            .into_iter()
            .map(|i| &self.slices[i].name)
            .collect()
    }

    /// Flags each slice's changed paths: those its globs do not match, and
    /// those another slice changed too. `changed` lists each slice with
    /// the paths it touched; slices missing from the plan own nothing.
    pub fn flag_changes(
        &self,
        changed: &[(SliceName, Vec<&str>)],
    ) -> BTreeMap<SliceName, Vec<PathFlag>> {
        let mut by_path: BTreeMap<&str, Vec<&SliceName>> = BTreeMap::new();
        for (slice, paths) in changed {
            for path in paths {
                let who = by_path.entry(path).or_default();
                if !who.contains(&slice) {
                    who.push(slice);
                }
            }
        }
        let mut flags: BTreeMap<SliceName, Vec<PathFlag>> = BTreeMap::new();
        for (slice, paths) in changed {
            let own = self.slices.iter().find(|s| &s.name == slice);
            let mine = flags.entry(slice.clone()).or_default();
            for path in paths {
                if !own.is_some_and(|o| o.set.is_match(path)) {
                    mine.push(PathFlag::Outside {
                        path: (*path).to_owned(),
                        owners: self.owners(path).into_iter().cloned().collect(),
                    });
                }
                for other in by_path.get(path).into_iter().flatten() {
                    if *other != slice && !self.same_family(slice, other) {
                        mine.push(PathFlag::Overlap {
                            path: (*path).to_owned(),
                            other: (*other).clone(),
                        });
                    }
                }
            }
            mine.sort();
            mine.dedup();
        }
        flags
    }

    /// Every pair of slices that claim a common path, judged on the given
    /// existing paths and on the globs themselves (so `models/**` and
    /// `models/staging/x.sql` collide even before that file exists).
    pub fn overlaps<'p>(&self, paths: impl IntoIterator<Item = &'p str>) -> Vec<Overlap> {
        let mut pairs: Vec<Overlap> = Vec::new();
        for (i, first) in self.slices.iter().enumerate() {
            for second in &self.slices[i + 1..] {
                let globs = glob_collisions(first, second);
                pairs.push(Overlap {
                    first: first.name.clone(),
                    second: second.name.clone(),
                    globs,
                    paths: Vec::new(),
                    more_paths: 0,
                });
            }
        }
        let mut hits = Vec::new();
        for path in paths {
            let owners = self.owner_indices(path, &mut hits);
            for (i, &ia) in owners.iter().enumerate() {
                for &ib in &owners[i + 1..] {
                    let pair = pair_index(ia, ib, self.slices.len());
                    let overlap = &mut pairs[pair];
                    if overlap.paths.len() < MAX_EVIDENCE {
                        overlap.paths.push(path.to_owned());
                    } else {
                        overlap.more_paths += 1;
                    }
                }
            }
        }
        pairs.retain(|o| {
            (!o.globs.is_empty() || !o.paths.is_empty()) && !self.same_family(&o.first, &o.second)
        });
        pairs
    }
}

/// Whether `raw` is a glob an [`Ownership`] takes; why not when it is
/// not. Cheaper than building one: no matcher is made.
pub fn check_glob(raw: &str) -> Result<(), String> {
    compile(raw).map(drop).map_err(|err| err.kind().to_string())
}

/// Compiles one `owns` glob with path semantics: `*` does not cross `/`, and
/// a trailing `/` means "everything under this folder".
fn compile(raw: &str) -> Result<Glob, globset::Error> {
    let pattern = match raw.strip_suffix('/') {
        Some(folder) => format!("{folder}/**"),
        None => raw.to_owned(),
    };
    GlobBuilder::new(&pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
}

fn glob_collisions(first: &Owned, second: &Owned) -> Vec<(String, String)> {
    let mut hits = Vec::new();
    for a in &first.globs {
        for b in &second.globs {
            if a.raw == b.raw || a.is_match(&b.raw) || b.is_match(&a.raw) {
                hits.push((a.raw.clone(), b.raw.clone()));
            }
        }
    }
    hits
}

/// Index of the pair `(i, j)`, `i < j`, in the order `overlaps` builds them.
fn pair_index(i: usize, j: usize, n: usize) -> usize {
    let (i, j) = if i < j { (i, j) } else { (j, i) };
    i * n - i * (i + 1) / 2 + (j - i - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ownership(spec: &[(&str, &[&str])]) -> Ownership {
        let owned: Vec<(SliceName, Vec<String>)> = spec
            .iter()
            .map(|(n, g)| {
                (
                    SliceName::parse(n).unwrap(),
                    g.iter().map(|s| s.to_string()).collect(),
                )
            })
            .collect();
        Ownership::new(owned.iter().map(|(n, g)| (n, g.as_slice()))).unwrap()
    }

    #[test]
    fn every_path_is_matched_once_against_all_globs() {
        let own = ownership(&[
            ("a", &["models/a/**", "docs/a.md"]),
            ("b", &["models/**", "typo/**"]),
            ("c", &["seeds/"]),
        ]);
        let names =
            |v: Vec<&SliceName>| v.iter().map(|n| n.as_str().to_owned()).collect::<Vec<_>>();
        assert_eq!(names(own.owners("models/a/x.sql")), ["a", "b"]);
        assert_eq!(names(own.owners("seeds/raw.csv")), ["c"]);
        assert!(own.owners("README.md").is_empty());
        let unmatched: Vec<(String, String)> = own
            .unmatched(["models/a/x.sql", "seeds/raw.csv"])
            .into_iter()
            .map(|(s, g)| (s.to_string(), g.to_owned()))
            .collect();
        assert_eq!(
            unmatched,
            [
                ("a".into(), "docs/a.md".into()),
                ("b".into(), "typo/**".into())
            ]
        );
        // Globs collide on their text alone, whatever their literal start.
        let overlaps = own.overlaps([]);
        assert_eq!(overlaps.len(), 1, "{overlaps:?}");
        assert_eq!(
            overlaps[0].globs,
            [("models/a/**".to_owned(), "models/**".to_owned())]
        );
        let apart = ownership(&[("x", &["models/x/**"]), ("y", &["models/y/**"])]);
        assert!(apart.overlaps([]).is_empty());
        let wild = ownership(&[("x", &["data/*/x.sql"]), ("y", &["data/raw/x.sql"])]);
        assert_eq!(wild.overlaps([]).len(), 1);
    }

    #[test]
    fn variants_of_one_slice_never_flag_or_overlap_each_other() {
        let name = |n: &str| SliceName::parse(n).unwrap();
        let own = ownership(&[
            ("stg.1", &["models/"]),
            ("stg.2", &["models/"]),
            ("other", &["models/x.sql"]),
        ])
        .with_families([(name("stg.1"), name("stg")), (name("stg.2"), name("stg"))]);
        let overlaps = own.overlaps(["models/x.sql"]);
        let pairs: Vec<(&str, &str)> = overlaps
            .iter()
            .map(|o| (o.first.as_str(), o.second.as_str()))
            .collect();
        assert_eq!(pairs, [("stg.1", "other"), ("stg.2", "other")]);
        let flags = own.flag_changes(&[
            (name("stg.1"), vec!["models/y.sql"]),
            (name("stg.2"), vec!["models/y.sql"]),
        ]);
        assert!(flags[&name("stg.1")].is_empty(), "{flags:?}");
        assert!(!own.same_family(&name("stg.1"), &name("other")));
    }

    #[test]
    fn star_stays_in_one_folder_and_trailing_slash_means_under() {
        let own = ownership(&[("a", &["models/*.sql"]), ("b", &["seeds/"])]);
        assert_eq!(own.owners("models/x.sql").len(), 1);
        assert!(own.owners("models/staging/x.sql").is_empty());
        assert_eq!(own.owners("seeds/deep/x.csv")[0].as_str(), "b");
    }

    #[test]
    fn overlap_found_through_paths_and_through_globs() {
        let own = ownership(&[
            ("a", &["models/staging/**"]),
            ("b", &["models/**/*.sql"]),
            ("c", &["models/staging/stg_orders.sql"]),
            ("d", &["macros/**"]),
        ]);
        let overlaps = own.overlaps(["models/staging/stg_users.sql", "macros/m.sql"]);
        let summary: Vec<(String, String, usize, usize)> = overlaps
            .iter()
            .map(|o| {
                (
                    o.first.to_string(),
                    o.second.to_string(),
                    o.globs.len(),
                    o.paths.len(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("a".into(), "b".into(), 0, 1),
                ("a".into(), "c".into(), 1, 0),
                ("b".into(), "c".into(), 1, 0),
            ]
        );
    }

    #[test]
    fn changes_outside_the_slice_and_shared_changes_are_flagged() {
        let own = ownership(&[("a", &["models/staging/**"]), ("b", &["models/marts/**"])]);
        let a = SliceName::parse("a").unwrap();
        let b = SliceName::parse("b").unwrap();
        let flags = own.flag_changes(&[
            (
                a.clone(),
                vec!["models/staging/x.sql", "models/marts/m.sql", "README.md"],
            ),
            (b.clone(), vec!["models/marts/m.sql"]),
        ]);
        let described: Vec<(String, String)> = flags[&a]
            .iter()
            .map(|f| (f.path().to_owned(), f.describe()))
            .collect();
        assert_eq!(
            described,
            [
                (
                    "README.md".into(),
                    "outside the slice; no slice owns it".into()
                ),
                (
                    "models/marts/m.sql".into(),
                    "outside the slice; owned by b".into()
                ),
                ("models/marts/m.sql".into(), "also changed by b".into()),
            ]
        );
        assert_eq!(
            flags[&b],
            [PathFlag::Overlap {
                path: "models/marts/m.sql".into(),
                other: a
            }]
        );
    }

    #[test]
    fn pair_index_is_dense() {
        let n = 5;
        let mut seen = Vec::new();
        for i in 0..n {
            for j in i + 1..n {
                seen.push(pair_index(i, j, n));
            }
        }
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn bad_glob_is_reported_with_slice_and_index() {
        let name = SliceName::parse("a").unwrap();
        let globs = vec!["ok/**".to_string(), "bad/[".to_string()];
        let err = Ownership::new([(&name, globs.as_slice())]).unwrap_err();
        assert_eq!((err.index, err.glob.as_str()), (1, "bad/["));
    }
}
