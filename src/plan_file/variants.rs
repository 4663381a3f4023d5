//! Competing variants (`variants = N`, or a list of `{ agent, prompt }`
//! tables): read from a slice's table and expanded into slices `NAME.1` …
//! `NAME.N`, each an ordinary slice with `variant_of = NAME` owning the
//! same paths.
//!
//! Part of the plan's [`Checker`]: the slice's own keys and the checks
//! across slices are `slices`'s; what a family means later (ownership, the
//! merge queue, `after`) is the domain's and never decided here.

use toml::Spanned;

use super::diagnostic::Diagnostic;
use super::load::Checker;
use super::slices::{CheckedSlice, Lines, PendingAfter};
use crate::domain::plan::SliceSpec;
use crate::domain::slice::SliceName;

/// Variants a slice may have: its names end `.1` to `.9`.
const MAX_VARIANTS: i64 = 9;

/// One competing variant as the plan gives it: its own agent command or
/// prompt, the slice's where left out.
#[derive(Debug, Clone, Default)]
pub(super) struct Variant {
    agent: Option<String>,
    prompt: Option<String>,
}

impl Checker<'_> {
    /// `variants = N` (2 to 9) or a list of `{ agent, prompt }` tables.
    pub(super) fn variants(
        &mut self,
        raw: Option<Spanned<toml::Value>>,
        key: &str,
    ) -> Vec<Variant> {
        let Some(raw) = raw else {
            return Vec::new();
        };
        let line = self.line(raw.span());
        let key = format!("{key} > variants");
        let fix = "give a number of variants from 2 to 9, or a list of tables such as `[{ agent = \"codex\" }, { prompt = \"keep the old names as aliases\" }]`";
        match raw.into_inner() {
            toml::Value::Integer(count) if (2..=MAX_VARIANTS).contains(&count) => {
                vec![Variant::default(); count as usize]
            }
            toml::Value::Array(list) if (2..=MAX_VARIANTS as usize).contains(&list.len()) => {
                let mut variants = Vec::new();
                for (i, entry) in list.into_iter().enumerate() {
                    let toml::Value::Table(table) = entry else {
                        self.push(
                            Diagnostic::error(
                                line,
                                key.clone(),
                                format!("entry {} is not a table", i + 1),
                            )
                            .fix(fix),
                        );
                        return Vec::new();
                    };
                    let mut variant = Variant::default();
                    for (field, value) in table {
                        let text = match value {
                            toml::Value::String(text) if !text.trim().is_empty() => text,
                            _ => {
                                self.push(
                                    Diagnostic::error(
                                        line,
                                        key.clone(),
                                        format!(
                                            "entry {}: `{field}` must be a non-empty string",
                                            i + 1
                                        ),
                                    )
                                    .fix(fix),
                                );
                                return Vec::new();
                            }
                        };
                        match field.as_str() {
                            "agent" => variant.agent = Some(text),
                            "prompt" => variant.prompt = Some(text),
                            other => {
                                self.push(
                                    Diagnostic::error(
                                        line,
                                        key.clone(),
                                        format!("entry {}: unknown key `{other}`", i + 1),
                                    )
                                    .fix("a variant sets `agent`, `prompt` or both"),
                                );
                                return Vec::new();
                            }
                        }
                    }
                    variants.push(variant);
                }
                variants
            }
            _ => {
                self.push(
                    Diagnostic::error(
                        line,
                        key,
                        "must be a number from 2 to 9 or a list of 2 to 9 tables",
                    )
                    .fix(fix),
                );
                Vec::new()
            }
        }
    }

    /// Competing variants: `name.1`, `name.2`, … each its own slice
    /// (worktree, branch, agent, dbt target) owning the same paths, with the
    /// slice's `after`; a variant whose name is taken is left out.
    pub(super) fn expand_variants(
        &mut self,
        slice: CheckedSlice,
        lines: &mut Lines,
    ) -> Vec<(SliceSpec, PendingAfter)> {
        let CheckedSlice {
            spec,
            after,
            variants,
            name_line,
            key,
        } = slice;
        let family = spec.name.clone();
        let mut slices = Vec::new();
        for (i, variant) in variants.into_iter().enumerate() {
            let Ok(variant_name) = SliceName::parse(&format!("{family}.{}", i + 1)) else {
                self.push(
                    Diagnostic::error(
                        name_line,
                        format!("{key} > name"),
                        "is too long to add a variant number to",
                    )
                    .fix("shorten the slice's name"),
                );
                break;
            };
            if let Some(first) = lines.names.insert(variant_name.to_string(), name_line) {
                let at = first.map(|l| format!(" on line {l}")).unwrap_or_default();
                self.push(
                    Diagnostic::error(
                        name_line,
                        format!("{key} > variants"),
                        format!("variant `{variant_name}` has the name of the slice{at}"),
                    )
                    .fix("rename one of them"),
                );
                continue;
            }
            if let Some(line) = lines.after.get(&family).copied() {
                lines.after.insert(variant_name.clone(), line);
            }
            if let Some(line) = lines.owns.get(&family).copied() {
                lines.owns.insert(variant_name.clone(), line);
            }
            slices.push((
                SliceSpec {
                    name: variant_name,
                    prompt: variant.prompt.unwrap_or_else(|| spec.prompt.clone()),
                    agent: variant.agent.or_else(|| spec.agent.clone()),
                    variant_of: Some(family.clone()),
                    ..spec.clone()
                },
                after.clone(),
            ));
        }
        slices
    }
}
