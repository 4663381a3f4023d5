//! The aggregate result the planner agent reviews (the seed's last step:
//! "waits for all workers to finish and reviews the aggregate result"):
//! what merged and at which commits, the integration check's last outcome,
//! ownership flags still open, slices that failed or never finished.
//! Pure: the merge queue gathers the facts and sends the text.

use super::short_commit;
use std::fmt::Write as _;

use super::slice::{Lifecycle, SliceName};

/// One slice of the work, as the review tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SliceOutcome {
    pub name: SliceName,
    pub lifecycle: Lifecycle,
    /// The merge commit on the integration branch, once merged.
    pub merged_commit: Option<String>,
    /// The commit the operator approved.
    pub approved_commit: Option<String>,
    /// Why its last merge attempt failed (conflict paths, failing nodes).
    pub attention: Option<String>,
    /// The agent's last state, e.g. `exited(1)`.
    pub agent: String,
    /// Its last dbt run, e.g. `build failed (2 failed)`; `None` if none ran.
    pub dbt: Option<String>,
    /// Its open ownership flags, as sentences.
    pub flags: Vec<String>,
    /// What its agents cost, e.g. `~$1.20 (45k tokens)`; `None` when no
    /// use is known.
    pub cost: Option<String>,
}

impl SliceOutcome {
    /// Whether the review lists it under "failed".
    fn failed(&self) -> bool {
        self.attention.is_some()
            || self.agent.starts_with("exited(") && self.agent != "exited(0)"
            || self
                .dbt
                .as_deref()
                .is_some_and(|d| d.contains("failed") || d.contains("error"))
    }
}

/// Everything the review says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewFacts {
    pub integration: String,
    /// The plan's `[merge] check`, if any.
    pub check: Option<String>,
    /// The check's last outcome, e.g. `passed for marts (merge 1a2b3c4d5e)`.
    pub last_check: Option<String>,
    pub slices: Vec<SliceOutcome>,
    /// The whole refactor's cost, e.g. `~$3.40 (1.2M tokens)`.
    pub total_cost: Option<String>,
}

impl ReviewFacts {
    /// Whether every slice still in play has merged (retired variants
    /// aside): the moment the planner is sent the review by itself.
    pub fn all_merged(&self) -> bool {
        let live: Vec<&SliceOutcome> = self
            .slices
            .iter()
            .filter(|s| s.lifecycle != Lifecycle::Retired)
            .collect();
        !live.is_empty() && live.iter().all(|s| s.merged_commit.is_some())
    }
}

/// The prompt the planner gets.
pub fn review_prompt(facts: &ReviewFacts) -> String {
    let mut out = String::new();
    let live: Vec<&SliceOutcome> = facts
        .slices
        .iter()
        .filter(|s| s.lifecycle != Lifecycle::Retired)
        .collect();
    write_merges(&mut out, facts, &live);
    write_check(&mut out, facts);
    write_flags(&mut out, &live);
    write_failures(&mut out, &live);
    write_retired(&mut out, facts);
    write_cost(&mut out, facts);
    let _ = writeln!(
        out,
        "\nReview the merged result on `{}`: does it do what the plan set out to do, is anything missing or inconsistent across slices? Say what to fix next; add slices to sliceboard.toml for work that remains.",
        facts.integration
    );
    out
}

/// The opening count, then the slices merged (with their commits) and
/// those not merged yet.
fn write_merges(out: &mut String, facts: &ReviewFacts, live: &[&SliceOutcome]) {
    let merged: Vec<&&SliceOutcome> = live.iter().filter(|s| s.merged_commit.is_some()).collect();
    let _ = writeln!(
        out,
        "Review the aggregate result of the refactor (sent by sliceboard): {} of {} slices merged into `{}`.",
        merged.len(),
        live.len(),
        facts.integration
    );
    let _ = writeln!(out, "\nMerged:");
    if merged.is_empty() {
        let _ = writeln!(out, "- none yet");
    }
    for slice in &merged {
        let _ = writeln!(
            out,
            "- {}: merge commit {}{}",
            slice.name,
            short_commit(slice.merged_commit.as_deref().unwrap_or_default()),
            slice
                .approved_commit
                .as_deref()
                .map(|c| format!(" (approved {})", short_commit(c)))
                .unwrap_or_default()
        );
    }
    let waiting: Vec<&&SliceOutcome> = live.iter().filter(|s| s.merged_commit.is_none()).collect();
    if !waiting.is_empty() {
        let _ = writeln!(out, "\nNot merged:");
        for slice in &waiting {
            let _ = writeln!(
                out,
                "- {}: {}, agent {}",
                slice.name, slice.lifecycle, slice.agent
            );
        }
    }
}

/// What the refactor cost, in total and per slice (variants included:
/// their work was paid for too).
fn write_cost(out: &mut String, facts: &ReviewFacts) {
    let Some(total) = &facts.total_cost else {
        return;
    };
    let _ = writeln!(
        out,
        "
Cost (`~`: estimated from list prices):"
    );
    let _ = writeln!(out, "- total {total}");
    for slice in &facts.slices {
        if let Some(cost) = &slice.cost {
            let _ = writeln!(out, "- {}: {cost}", slice.name);
        }
    }
}

/// The integration check and its last outcome.
fn write_check(out: &mut String, facts: &ReviewFacts) {
    let _ = writeln!(out, "\nIntegration check:");
    let _ = match (&facts.check, &facts.last_check) {
        (None, _) => writeln!(out, "- none configured (`[merge] check`)"),
        (Some(check), None) => writeln!(out, "- `{check}`: has not run yet"),
        (Some(check), Some(last)) => writeln!(out, "- `{check}`: {last}"),
    };
}

/// Every ownership flag still open, one line each.
fn write_flags(out: &mut String, live: &[&SliceOutcome]) {
    let flagged: Vec<&&SliceOutcome> = live.iter().filter(|s| !s.flags.is_empty()).collect();
    let _ = writeln!(out, "\nOwnership flags still open:");
    if flagged.is_empty() {
        let _ = writeln!(out, "- none");
    }
    for slice in flagged {
        for flag in &slice.flags {
            let _ = writeln!(out, "- {}: {flag}", slice.name);
        }
    }
}

/// The slices that failed, each with why: its merge, its agent, its dbt.
fn write_failures(out: &mut String, live: &[&SliceOutcome]) {
    let failed: Vec<&&SliceOutcome> = live.iter().filter(|s| s.failed()).collect();
    let _ = writeln!(out, "\nFailed:");
    if failed.is_empty() {
        let _ = writeln!(out, "- none");
    }
    for slice in failed {
        let mut why = Vec::new();
        if let Some(attention) = &slice.attention {
            why.push(format!("merge: {attention}"));
        }
        if slice.agent.starts_with("exited(") && slice.agent != "exited(0)" {
            why.push(format!("agent {}", slice.agent));
        }
        if let Some(dbt) = slice
            .dbt
            .as_deref()
            .filter(|d| d.contains("failed") || d.contains("error"))
        {
            why.push(format!("dbt {dbt}"));
        }
        let _ = writeln!(out, "- {}: {}", slice.name, why.join("; "));
    }
}

/// The variants retired when a sibling was picked, if any.
fn write_retired(out: &mut String, facts: &ReviewFacts) {
    let retired: Vec<&SliceOutcome> = facts
        .slices
        .iter()
        .filter(|s| s.lifecycle == Lifecycle::Retired)
        .collect();
    if !retired.is_empty() {
        let names: Vec<&str> = retired.iter().map(|s| s.name.as_str()).collect();
        let _ = writeln!(
            out,
            "\nRetired variants (another was picked): {}",
            names.join(", ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(name: &str, lifecycle: Lifecycle) -> SliceOutcome {
        SliceOutcome {
            name: SliceName::parse(name).unwrap(),
            lifecycle,
            merged_commit: None,
            approved_commit: None,
            attention: None,
            agent: "exited(0)".into(),
            dbt: None,
            flags: Vec::new(),
            cost: None,
        }
    }

    #[test]
    fn the_review_names_merges_the_check_flags_and_failures() {
        let mut staging = slice("staging", Lifecycle::Merged);
        staging.merged_commit = Some("1111111111aaaa".into());
        staging.approved_commit = Some("2222222222bbbb".into());
        let mut marts = slice("marts", Lifecycle::Approved);
        marts.attention = Some("conflicts in models/marts/x.sql".into());
        marts.flags = vec!["models/seeds.csv: outside its globs".into()];
        let mut seeds = slice("seeds", Lifecycle::Active);
        seeds.agent = "exited(1)".into();
        seeds.dbt = Some("build failed (2 failed)".into());
        let mut old = slice("staging.2", Lifecycle::Retired);
        old.cost = Some("~$0.40 (120k tokens)".into());
        let facts = ReviewFacts {
            integration: "main".into(),
            check: Some("dbt build".into()),
            last_check: Some("failed for marts: 2 models failed".into()),
            slices: vec![staging, marts, seeds, old],
            total_cost: Some("~$1.20 (400k tokens)".into()),
        };
        let text = review_prompt(&facts);
        for expected in [
            "1 of 3 slices merged into `main`",
            "- staging: merge commit 1111111111 (approved 2222222222)",
            "- marts: approved, agent exited(0)",
            "- `dbt build`: failed for marts: 2 models failed",
            "- marts: models/seeds.csv: outside its globs",
            "- marts: merge: conflicts in models/marts/x.sql",
            "- seeds: agent exited(1); dbt build failed (2 failed)",
            "Retired variants (another was picked): staging.2",
            "- total ~$1.20 (400k tokens)",
            "- staging.2: ~$0.40 (120k tokens)",
        ] {
            assert!(text.contains(expected), "{expected:?} in:\n{text}");
        }
        assert!(!facts.all_merged());
    }

    #[test]
    fn all_merged_leaves_retired_variants_aside() {
        let mut a = slice("a", Lifecycle::Merged);
        a.merged_commit = Some("c".into());
        let facts = ReviewFacts {
            integration: "main".into(),
            check: None,
            last_check: None,
            slices: vec![a, slice("a.2", Lifecycle::Retired)],
            total_cost: None,
        };
        assert!(facts.all_merged());
        let none = ReviewFacts {
            slices: Vec::new(),
            ..facts
        };
        assert!(!none.all_merged());
    }
}
