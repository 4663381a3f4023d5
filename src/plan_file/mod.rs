//! The plan file, `sliceboard.toml`: reading it into a checked
//! [`Plan`](crate::domain::Plan), its diagnostics, and the starter that
//! `sliceboard init` writes.
//!
//! Uses the domain and the toml crate; asks the repository questions only
//! through [`RepoFacts`], never through git directly.

#![forbid(unsafe_code)]

pub mod diagnostic;
mod load;
mod planner;
mod raw;
mod sandbox;
mod slices;
pub mod starter;
mod variants;

pub use diagnostic::{Diagnostic, PlanError, Severity};
pub use load::{LoadedPlan, RepoFacts, load, parse};

/// The plan's file name, at the repository root.
pub const PLAN_FILE: &str = "sliceboard.toml";
