//! The `[[slice]]` tables: each slice's name, `owns`, `after`, agent,
//! environment and logs checked one table at a time, then the checks
//! across slices (every `after` names a slice and makes no cycle, no two
//! slices own the same path, globs that match no file).
//!
//! Part of the plan's [`Checker`]: competing variants are `variants`'s, the
//! planner agent `planner`'s, the top-level settings and the checks on the
//! plan as a whole `load`'s; this module touches none of those.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use toml::Spanned;

use super::diagnostic::{Diagnostic, did_you_mean};
use super::load::{Checker, is_inside};
use super::raw::RawSlice;
use super::variants::Variant;
use crate::domain::order::find_cycle;
use crate::domain::ownership::Ownership;
use crate::domain::plan::SliceSpec;
use crate::domain::slice::SliceName;

/// A slice's `after` entries with their lines, before they are checked
/// against the other slices.
pub(super) type PendingAfter = Vec<(SliceName, Option<usize>)>;

/// Where each slice's name, `owns` and `after` are, for the checks across
/// slices.
#[derive(Default)]
pub(super) struct Lines {
    /// Every name taken so far, slices' and variants', with its line.
    pub(super) names: BTreeMap<String, Option<usize>>,
    pub(super) after: BTreeMap<SliceName, Option<usize>>,
    pub(super) owns: BTreeMap<SliceName, Option<usize>>,
}

/// One `[[slice]]` table, checked: the slice, its `after` still to check,
/// its variants, and where diagnostics about it point.
pub(super) struct CheckedSlice {
    pub(super) spec: SliceSpec,
    pub(super) after: PendingAfter,
    pub(super) variants: Vec<Variant>,
    pub(super) name_line: Option<usize>,
    /// `slice "NAME"`, how diagnostics name it.
    pub(super) key: String,
}

impl Checker<'_> {
    /// Every `[[slice]]` table, variants expanded, checked alone and then
    /// against each other.
    pub(super) fn slices(&mut self, raw: Vec<Spanned<RawSlice>>) -> Vec<SliceSpec> {
        if raw.is_empty() {
            self.push(
                Diagnostic::error(None, "slice", "the plan has no slices")
                    .fix("add a [[slice]] table with at least `name` and `owns`"),
            );
        }
        let mut lines = Lines::default();
        let mut slices = Vec::new();
        // Each slice with variants, and the variants' names.
        let mut families: BTreeMap<SliceName, Vec<SliceName>> = BTreeMap::new();
        for spanned in raw {
            let Some(checked) = self.slice(spanned, &mut lines) else {
                continue;
            };
            if checked.variants.is_empty() {
                slices.push((checked.spec, checked.after));
                continue;
            }
            let family = checked.spec.name.clone();
            let variants = self.expand_variants(checked, &mut lines);
            families.insert(
                family,
                variants.iter().map(|(s, _)| s.name.clone()).collect(),
            );
            slices.extend(variants);
        }
        self.after(&mut slices, &lines.after, &families);
        let slices: Vec<SliceSpec> = slices.into_iter().map(|(s, _)| s).collect();
        self.overlaps(&slices, &lines.owns);
        slices
    }

    /// One `[[slice]]` table; `None` when its name is unusable or taken.
    fn slice(&mut self, spanned: Spanned<RawSlice>, lines: &mut Lines) -> Option<CheckedSlice> {
        let table_line = self.line(spanned.span());
        let raw = spanned.into_inner();
        let name_line = self.line(raw.name.span());
        let key = format!("slice {:?}", raw.name.get_ref());
        let name = self.slice_name(raw.name.get_ref(), name_line, &key, lines)?;
        let owns = match raw.owns {
            Some(owns) if !owns.get_ref().is_empty() => {
                lines.owns.insert(name.clone(), self.line(owns.span()));
                self.owns(owns.into_inner(), &key)
            }
            other => {
                let line = other.map(|o| self.line(o.span())).unwrap_or(table_line);
                lines.owns.insert(name.clone(), line);
                self.push(
                    Diagnostic::error(line, format!("{key} > owns"), "is missing or empty: a slice must own at least one path")
                        .fix("list the paths this slice may change, e.g. `owns = [\"models/staging/**\"]`"),
                );
                Vec::new()
            }
        };
        let after = self.pending_after(raw.after, &name, &key, lines);
        let agent = match raw.agent {
            Some(a) if a.get_ref().trim().is_empty() => {
                let line = self.line(a.span());
                self.push(
                    Diagnostic::error(line, format!("{key} > agent"), "is empty")
                        .fix("remove it to use [agent] command, or give a command"),
                );
                None
            }
            other => {
                if let Some(agent) = &other {
                    self.command_placeholders(agent, &format!("{key} > agent"));
                }
                other.map(Spanned::into_inner)
            }
        };
        let env = self.env(raw.env, &format!("{key} > env"));
        let logs = self.logs(raw.logs, &key);
        let variants = self.variants(raw.variants, &key);
        let budget = self.budget(raw.budget, &format!("{key} > budget"));
        let (sandbox, network) = self.slice_box(raw.sandbox, raw.network, &key);
        Some(CheckedSlice {
            spec: SliceSpec {
                prompt: raw.prompt.unwrap_or_default(),
                agent,
                env,
                logs,
                budget,
                sandbox,
                network,
                ..SliceSpec::new(name, owns)
            },
            after,
            variants,
            name_line,
            key,
        })
    }

    /// A slice's name: valid, and not taken by an earlier slice.
    fn slice_name(
        &mut self,
        raw: &str,
        name_line: Option<usize>,
        key: &str,
        lines: &mut Lines,
    ) -> Option<SliceName> {
        let name = match SliceName::parse(raw) {
            Ok(name) => name,
            Err(problem) => {
                self.push(
                    Diagnostic::error(name_line, format!("{key} > name"), format!("the name {problem}"))
                        .fix("slice names become branch and folder names: use letters, digits, '-', '_' and '.'"),
                );
                return None;
            }
        };
        if let Some(first) = lines.names.insert(name.to_string(), name_line) {
            let at = first.map(|l| format!(" on line {l}")).unwrap_or_default();
            self.push(
                Diagnostic::error(
                    name_line,
                    format!("{key} > name"),
                    format!("is already used by the slice{at}"),
                )
                .fix("give every slice its own name"),
            );
            return None;
        }
        Some(name)
    }

    /// A slice's `after` entries that are slice names, with their lines;
    /// whether they name slices of the plan is checked once all are read.
    fn pending_after(
        &mut self,
        entries: Vec<Spanned<String>>,
        name: &SliceName,
        key: &str,
        lines: &mut Lines,
    ) -> PendingAfter {
        let mut after = Vec::new();
        for entry in entries {
            lines.after.insert(name.clone(), self.line(entry.span()));
            match SliceName::parse(entry.get_ref()) {
                Ok(dep) => after.push((dep, self.line(entry.span()))),
                Err(_) => self.push(
                    Diagnostic::error(
                        self.line(entry.span()),
                        format!("{key} > after"),
                        format!("`{}` is not a slice name", entry.get_ref()),
                    )
                    .fix("list the names of slices that must merge before this one"),
                ),
            }
        }
        after
    }

    /// A slice's `logs`: valid globs inside its worktree.
    fn logs(&mut self, globs: Vec<Spanned<String>>, key: &str) -> Vec<String> {
        globs
            .into_iter()
            .filter_map(|glob| {
                if globset::Glob::new(glob.get_ref()).is_err() {
                    let line = self.line(glob.span());
                    self.push(
                        Diagnostic::error(line, format!("{key} > logs"), format!("`{}` is not a valid glob", glob.get_ref()))
                            .fix("use `*`, `**`, `?` and `[...]` only as globs; escape others with a backslash"),
                    );
                    return None;
                }
                // The Logs tab follows files of the slice's worktree,
                // never one outside it.
                if !is_inside(Path::new(glob.get_ref())) {
                    let line = self.line(glob.span());
                    self.push(
                        Diagnostic::error(line, format!("{key} > logs"), format!("`{}` reaches outside the worktree", glob.get_ref()))
                            .fix("use a glob relative to the worktree, without a leading `/` or `..`, e.g. `logs/*.log`"),
                    );
                    return None;
                }
                Some(glob.into_inner())
            })
            .collect()
    }

    fn owns(&mut self, globs: Vec<Spanned<String>>, key: &str) -> Vec<String> {
        let mut owns = Vec::new();
        for glob in globs {
            let line = self.line(glob.span());
            let raw = glob.get_ref();
            let problem = if raw.trim().is_empty() {
                Some(("is empty", "remove it".to_owned()))
            } else if let Some(rest) = raw.strip_prefix('/') {
                Some((
                    "starts with '/'",
                    format!("globs are relative to the repository root: write `{rest}`"),
                ))
            } else if raw.split('/').any(|part| part == "..") {
                Some((
                    "leaves the repository with '..'",
                    "name paths inside the repository".to_owned(),
                ))
            } else {
                None
            };
            if let Some((what, fix)) = problem {
                self.push(
                    Diagnostic::error(
                        line,
                        format!("{key} > owns"),
                        format!("glob `{raw}` {what}"),
                    )
                    .fix(fix),
                );
                continue;
            }
            if let Err(reason) = crate::domain::ownership::check_glob(raw) {
                self.push(
                    Diagnostic::error(line, format!("{key} > owns"), format!("glob `{raw}` is not valid: {reason}"))
                        .fix("use `*` within a folder, `**` across folders, `?`, `[...]`, or end with '/' for a whole folder"),
                );
                continue;
            }
            owns.push(glob.into_inner());
        }
        owns
    }

    fn after(
        &mut self,
        slices: &mut [(SliceSpec, PendingAfter)],
        after_lines: &BTreeMap<SliceName, Option<usize>>,
        families: &BTreeMap<SliceName, Vec<SliceName>>,
    ) {
        let names: BTreeSet<SliceName> = slices.iter().map(|(s, _)| s.name.clone()).collect();
        let mut complete = true;
        for (slice, after) in slices.iter_mut() {
            for (dep, line) in after.drain(..) {
                if names.contains(&dep) {
                    slice.after.push(dep);
                    continue;
                }
                // After a slice with variants: after each of them (the one
                // picked merges; the others, retired, stop holding it up).
                if let Some(variants) = families.get(&dep) {
                    slice.after.extend(variants.iter().cloned());
                    continue;
                }
                complete = false;
                let others: Vec<&str> = names
                    .iter()
                    .filter(|n| **n != slice.name)
                    .map(SliceName::as_str)
                    .collect();
                let fix = match did_you_mean(dep.as_str(), others.iter().copied()) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None if others.is_empty() => "remove it: there are no other slices".to_owned(),
                    None => format!("name one of: {}", others.join(", ")),
                };
                self.push(
                    Diagnostic::error(
                        line,
                        format!("slice {:?} > after", slice.name.as_str()),
                        format!("names slice `{dep}`, which is not in the plan"),
                    )
                    .fix(fix),
                );
            }
        }
        if !complete {
            return;
        }
        let graph: Vec<(&SliceName, &[SliceName])> = slices
            .iter()
            .map(|(s, _)| (&s.name, s.after.as_slice()))
            .collect();
        if let Some(cycle) = find_cycle(&graph) {
            let path: Vec<&str> = cycle.iter().map(SliceName::as_str).collect();
            let line = after_lines.get(&cycle[0]).copied().flatten();
            self.push(
                Diagnostic::error(
                    line,
                    format!("slice {:?} > after", cycle[0].as_str()),
                    format!("forms a cycle: {}", path.join(" -> ")),
                )
                .fix("slices in a cycle can never merge: remove one of these `after` entries"),
            );
        }
    }

    fn overlaps(&mut self, slices: &[SliceSpec], owns_lines: &BTreeMap<SliceName, Option<usize>>) {
        if !self.facts.compares_slices() {
            return;
        }
        let owned: Vec<(&SliceName, &[String])> = slices
            .iter()
            .filter(|s| !s.owns.is_empty())
            .map(|s| (&s.name, s.owns.as_slice()))
            .collect();
        let Ok(ownership) = Ownership::new(owned.iter().copied()) else {
            return;
        };
        let ownership = ownership.with_families(
            slices
                .iter()
                .filter_map(|s| Some((s.name.clone(), s.variant_of.clone()?))),
        );
        // Real files at the base catch overlaps the globs alone cannot show.
        let files = match &self.existing_base {
            Some(base) => self.facts.files_at(base),
            None => Vec::new(),
        };
        if self.existing_base.is_some() {
            self.unmatched_globs(&ownership, &files, owns_lines);
        }
        for overlap in ownership.overlaps(files.iter().map(String::as_str)) {
            let mut evidence = Vec::new();
            for (a, b) in &overlap.globs {
                if a == b {
                    evidence.push(format!("both list `{a}`"));
                } else {
                    evidence.push(format!(
                        "`{a}` ({}) and `{b}` ({}) match the same paths",
                        overlap.first, overlap.second
                    ));
                }
            }
            if !overlap.paths.is_empty() {
                let more = match overlap.more_paths {
                    0 => String::new(),
                    n => format!(" and {n} more"),
                };
                evidence.push(format!("both own {}{more}", overlap.paths.join(", ")));
            }
            let line = owns_lines.get(&overlap.second).copied().flatten();
            self.push(
                Diagnostic::error(
                    line,
                    format!("slice {:?} > owns", overlap.second.as_str()),
                    format!("overlaps slice `{}`: {}", overlap.first, evidence.join("; ")),
                )
                .fix("every path must belong to one slice: narrow one slice's globs or move the shared paths to one of them"),
            );
        }
    }

    /// Warns about globs that match no file at the base: often a typo, but
    /// fine for a slice that will create the files.
    fn unmatched_globs(
        &mut self,
        ownership: &Ownership,
        files: &[String],
        owns_lines: &BTreeMap<SliceName, Option<usize>>,
    ) {
        let base = self.existing_base.clone().unwrap_or_default();
        for (slice, glob) in ownership.unmatched(files.iter().map(String::as_str)) {
            let line = owns_lines.get(slice).copied().flatten();
            self.push(
                Diagnostic::warning(
                    line,
                    format!("slice {:?} > owns", slice.as_str()),
                    format!("glob `{glob}` matches no file on `{base}`"),
                )
                .fix("fine if this slice creates those files; otherwise check the spelling"),
            );
        }
    }
}
