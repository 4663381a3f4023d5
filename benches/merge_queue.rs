//! The merge queue's engine on a 20,000-file repository with 20 slices:
//! what a conflict preview costs, what the pairwise previews between
//! slices cost with and without the changed-paths filter the queue uses,
//! what a merge commit and its compare-and-swap cost, and what
//! `sliceboard approve` and `sliceboard merge` take from the shell.
//!
//! The repository is synthetic and written with `git fast-import` (one
//! pack, no checkout): `models/area_AA/sub_SS/model_N.sql`, 20 areas of 20
//! leaf folders (20,000 files of 5 lines, 50 a folder). `integration` is
//! `main` plus one commit (earlier merges). Slice `sKK` branches from
//! `main` and changes 5–50 files (fixed, varied counts), nearly all in its
//! own area: it rewrites a line in most of them and appends one, adds two
//! files and deletes one. On purpose: s02/s03, s08/s09 and s14/s15 change
//! the same line of one file (those pairs conflict), s05/s06 and s11/s12
//! change different lines of one file (they overlap but merge cleanly),
//! `integration` changes the line s19 changes (s19 conflicts with it) and
//! another line of a file of s10 (a clean content merge).
//!
//! Parts:
//! - (a) preview of the 20 slices against the integration tip, as one
//!   `MergeEngine::previews` call of 20 pairs and as 20 calls of one pair
//!   (what the queue's refresh does); cold (the repository's files dropped
//!   from the page cache with `POSIX_FADV_DONTNEED`, a new engine) and warm
//!   (the same engine, again);
//! - (b) pairwise previews among the 20 (190 pairs): all of them, then the
//!   queue's way (each slice's changed paths since its merge base with the
//!   target, and only pairs whose path sets meet merged), checking that the
//!   filter finds every conflict the naive way finds;
//! - (c) the 20 merges in order onto `integration`, each `merge_commit` on
//!   the tip then `move_branch` by compare-and-swap from that tip;
//! - (d) the binary: a second repository like the first, checked out, with
//!   a `sliceboard.toml` of 20 slices (each owning its area, agent
//!   `sleep 600`), `sliceboard up` of a few slices that overlap nothing,
//!   the supervisor started by a first `sliceboard queue`, then the wall
//!   time of `sliceboard queue` (the round-trip floor), `sliceboard approve
//!   S --force` and `sliceboard merge S` (no `[merge] check`), then
//!   `sliceboard stop`.
//!
//! Run with `cargo bench --bench merge_queue` (cargo builds the binary for
//! the bench with the release settings). Environment:
//! - `SB_MQ_FILES`: files in the repository (default 20,000, at least 1,600);
//! - `SB_MQ_ROUNDS`: rounds of each preview figure in (a) (default 7);
//! - `SB_MQ_PAIR_ROUNDS`: rounds of each figure in (b) (default 3);
//! - `SB_MQ_CLI_SLICES`: slices `up` in (d) (default 3, at most 8; 0 skips
//!   (d));
//! - `SB_BIN`: the binary for (d) (default the one cargo built for this bench).
//!
//! Everything lives in one temporary folder, with `HOME` inside it and git
//! run with no user or system config; the supervisor of (d) is stopped
//! also when the bench fails.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::os::unix::io::AsRawFd as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sliceboard::git::{Made, MergeEngine, Oid, Preview};

const AREAS: usize = 20;
const SUBS: usize = 20;
const FOLDERS: usize = AREAS * SUBS;
const SLICES: usize = 20;
/// Files each slice changes (modified + 2 added + 1 deleted, plus the
/// file it shares with another slice for the first of an overlapping pair).
const CHANGED: [usize; SLICES] = [
    5, 12, 50, 23, 8, 41, 17, 30, 6, 45, 14, 27, 9, 36, 20, 48, 11, 33, 7, 25,
];
/// (a, b): a rewrites the line b rewrites in b's first file.
const CONFLICTING: [(usize, usize); 3] = [(2, 3), (8, 9), (14, 15)];
/// (a, b): a changes another line of b's first file.
const OVERLAPPING: [(usize, usize); 2] = [(5, 6), (11, 12)];
/// Integration rewrites this slice's line: a conflict against the tip.
const CONFLICTS_WITH_TIP: usize = 19;
/// Integration changes another line of this slice's first file.
const CONTENT_MERGE_WITH_TIP: usize = 10;
/// Slices that share no file with another slice or with the tip: (d)
/// merges these, in this order.
const UNTANGLED: [usize; 8] = [0, 1, 4, 7, 13, 16, 17, 18];
const EPOCH: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn main() {
    let files = env_usize("SB_MQ_FILES", 20_000);
    assert!(
        files >= 4 * FOLDERS,
        "SB_MQ_FILES must be at least {}",
        4 * FOLDERS
    );
    let rounds = env_usize("SB_MQ_ROUNDS", 7).max(1);
    let pair_rounds = env_usize("SB_MQ_PAIR_ROUNDS", 3).max(1);
    let cli_slices = env_usize("SB_MQ_CLI_SLICES", 3).min(UNTANGLED.len());
    let tmp = tempfile::Builder::new()
        .prefix("sb-merge-queue.")
        .tempdir()
        .expect("temporary directory");
    fixed_environment(tmp.path());
    println!("merge queue bench: {}", machine());
    println!("  temporary folder {}", tmp.path().display());

    let layout = Layout::new(files);
    let repo = tmp.path().join("repo");
    let (_, built) = timed(|| layout.build(&repo, None));
    let git_dir = repo.join(".git");
    println!(
        "  repository: {files} files, {} slices changing {} files ({}–{} each), built in {:.2} s",
        SLICES,
        layout.slices.iter().map(|s| s.len()).sum::<usize>(),
        layout.slices.iter().map(|s| s.len()).min().unwrap_or(0),
        layout.slices.iter().map(|s| s.len()).max().unwrap_or(0),
        built.as_secs_f64()
    );

    let mut table = Table::default();
    table.row(
        "repository (fast-import)",
        format!(
            "{files} files, {} slices changing {}–{} files, built in {:.2} s",
            SLICES,
            layout.slices.iter().map(|s| s.len()).min().unwrap_or(0),
            layout.slices.iter().map(|s| s.len()).max().unwrap_or(0),
            built.as_secs_f64()
        ),
    );

    let tips = {
        let engine = MergeEngine::open(&git_dir).expect("open the repository");
        let target = engine
            .tip("integration")
            .expect("read integration")
            .expect("integration exists");
        let tips: Vec<Oid> = (0..SLICES)
            .map(|k| {
                engine
                    .tip(&branch(k))
                    .expect("read a slice branch")
                    .expect("the slice branch exists")
            })
            .collect();
        (target, tips)
    };
    let (target, tips) = tips;

    previews_against_tip(&git_dir, target, &tips, rounds, &mut table);
    pairwise(&git_dir, target, &tips, pair_rounds, &mut table);
    merges(&git_dir, &repo, &tips, layout.per_folder, &mut table);
    if cli_slices > 0 {
        let bin = std::env::var_os("SB_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_sliceboard")));
        let bin = bin.canonicalize().expect("the sliceboard binary");
        through_the_binary(&bin, tmp.path(), &layout, cli_slices, &mut table);
    }

    println!();
    println!("Results ({files} files, {SLICES} slices; min / median / max)");
    table.print();
}

// ---------------------------------------------------------------------------
// (a) previews against the integration tip

fn previews_against_tip(
    git_dir: &Path,
    target: Oid,
    tips: &[Oid],
    rounds: usize,
    table: &mut Table,
) {
    println!(
        "(a) previews of {} slices against the integration tip, {rounds} rounds",
        tips.len()
    );
    let pairs: Vec<(Oid, Oid)> = tips.iter().map(|&tip| (target, tip)).collect();
    let expected: BTreeSet<usize> = [CONFLICTS_WITH_TIP].into();
    let check = |previews: &[Preview]| {
        let conflicting: BTreeSet<usize> = previews
            .iter()
            .enumerate()
            .filter(|(_, p)| matches!(p, Preview::Conflicts { .. }))
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            conflicting, expected,
            "previews against the tip: {previews:?}"
        );
        assert!(
            previews
                .iter()
                .all(|p| !matches!(p, Preview::Clean { already_in: true })),
            "no slice is in the integration tip yet"
        );
    };

    let mut cold_batch = Vec::new();
    let mut cold_single = Vec::new();
    let mut warm_batch = Vec::new();
    let mut warm_single = Vec::new();
    let mut cold_open = Vec::new();
    let mut single_calls = Vec::new();
    let mut resident = None;
    for round in 0..rounds {
        // Cold, one call of 20 pairs.
        drop_page_cache(git_dir);
        if round == 0 {
            resident = Some(resident_pack_bytes(git_dir));
        }
        let started = Instant::now();
        let engine = MergeEngine::open(git_dir).expect("open");
        cold_open.push(started.elapsed());
        let previews = engine.previews(&pairs).expect("previews");
        cold_batch.push(started.elapsed());
        check(&previews);
        // Warm: the same engine, again.
        let (previews, took) = timed(|| engine.previews(&pairs).expect("previews"));
        warm_batch.push(took);
        check(&previews);
        drop(engine);

        // Cold, 20 calls of one pair.
        drop_page_cache(git_dir);
        let started = Instant::now();
        let engine = MergeEngine::open(git_dir).expect("open");
        let previews: Vec<Preview> = pairs
            .iter()
            .map(|pair| {
                engine
                    .previews(std::slice::from_ref(pair))
                    .expect("preview")
                    .remove(0)
            })
            .collect();
        cold_single.push(started.elapsed());
        check(&previews);
        // Warm.
        let started = Instant::now();
        let previews: Vec<Preview> = pairs
            .iter()
            .map(|pair| {
                let (mut found, took) = timed(|| {
                    engine
                        .previews(std::slice::from_ref(pair))
                        .expect("preview")
                });
                single_calls.push(took);
                found.remove(0)
            })
            .collect();
        warm_single.push(started.elapsed());
        check(&previews);
    }
    let goal = Duration::from_millis(500);
    let verdict = |times: &[Duration]| {
        if times.iter().all(|t| *t < goal) {
            "all under 0.5 s"
        } else {
            "NOT all under 0.5 s"
        }
    };
    table.section("(a) preview 20 slices against the integration tip (1 conflicts)");
    if let Some(resident) = resident {
        table.row(
            "pack resident after the page-cache drop",
            format!("{resident} bytes (of the pack files)"),
        );
    }
    table.row("cold: MergeEngine::open", stats_ms(&cold_open));
    table.row(
        "cold: open + 1 call of 20 pairs",
        format!("{}  [{}]", stats_ms(&cold_batch), verdict(&cold_batch)),
    );
    table.row(
        "cold: open + 20 calls of 1 pair",
        format!("{}  [{}]", stats_ms(&cold_single), verdict(&cold_single)),
    );
    table.row(
        "warm: 1 call of 20 pairs",
        format!("{}  [{}]", stats_ms(&warm_batch), verdict(&warm_batch)),
    );
    table.row(
        "warm: 20 calls of 1 pair",
        format!("{}  [{}]", stats_ms(&warm_single), verdict(&warm_single)),
    );
    table.row("warm: one call of 1 pair", stats_ms(&single_calls));
}

// ---------------------------------------------------------------------------
// (b) pairwise previews

fn pairwise(git_dir: &Path, target: Oid, tips: &[Oid], rounds: usize, table: &mut Table) {
    let all: Vec<(usize, usize)> = (0..tips.len())
        .flat_map(|i| (i + 1..tips.len()).map(move |j| (i, j)))
        .collect();
    let pairs: Vec<(Oid, Oid)> = all.iter().map(|&(i, j)| (tips[i], tips[j])).collect();
    println!(
        "(b) pairwise previews among {} slices ({} pairs), {rounds} rounds",
        tips.len(),
        all.len()
    );
    let expected: BTreeSet<(usize, usize)> = CONFLICTING.into_iter().collect();
    let conflicts_of =
        |previews: &[Preview], which: &[(usize, usize)]| -> BTreeSet<(usize, usize)> {
            which
                .iter()
                .zip(previews)
                .filter(|(_, p)| matches!(p, Preview::Conflicts { .. }))
                .map(|(pair, _)| *pair)
                .collect()
        };

    let mut naive_batch = Vec::new();
    let mut naive_single = Vec::new();
    let mut filtered = Vec::new();
    let mut filtered_paths = Vec::new();
    let mut filtered_merges = Vec::new();
    let mut filtered_cold = Vec::new();
    let mut merged_pairs = 0;
    let mut path_counts = Vec::new();
    for round in 0..rounds {
        let engine = MergeEngine::open(git_dir).expect("open");
        let (previews, took) = timed(|| engine.previews(&pairs).expect("previews"));
        naive_batch.push(took);
        assert_eq!(
            conflicts_of(&previews, &all),
            expected,
            "naive pairwise previews"
        );

        let (previews, took) = timed(|| {
            pairs
                .iter()
                .map(|pair| {
                    engine
                        .previews(std::slice::from_ref(pair))
                        .expect("preview")
                        .remove(0)
                })
                .collect::<Vec<_>>()
        });
        naive_single.push(took);
        assert_eq!(
            conflicts_of(&previews, &all),
            expected,
            "naive pairwise previews, one by one"
        );
        drop(engine);

        // The queue's way, cold in the first round.
        let cold = round == 0;
        if cold {
            drop_page_cache(git_dir);
        }
        let started = Instant::now();
        let engine = MergeEngine::open(git_dir).expect("open");
        let changed: Vec<BTreeSet<String>> = tips
            .iter()
            .map(|&tip| {
                let base = engine
                    .merge_base(target, tip)
                    .expect("merge base")
                    .expect("shared history");
                engine.changed_paths(base, tip).expect("changed paths")
            })
            .collect();
        let paths_done = started.elapsed();
        let overlapping: Vec<(usize, usize)> = all
            .iter()
            .copied()
            .filter(|&(i, j)| !changed[i].is_disjoint(&changed[j]))
            .collect();
        let previews: Vec<Preview> = overlapping
            .iter()
            .map(|&(i, j)| {
                engine
                    .previews(&[(tips[i], tips[j])])
                    .expect("preview")
                    .remove(0)
            })
            .collect();
        let total = started.elapsed();
        assert_eq!(
            conflicts_of(&previews, &overlapping),
            expected,
            "the changed-paths filter finds the same conflicts"
        );
        merged_pairs = overlapping.len();
        if cold {
            filtered_cold.push(total);
            path_counts = changed.iter().map(BTreeSet::len).collect();
        } else {
            filtered.push(total);
            filtered_paths.push(paths_done);
            filtered_merges.push(total - paths_done);
        }
    }
    if filtered.is_empty() {
        filtered = filtered_cold.clone();
    }
    table.section(&format!(
        "(b) pairwise previews among 20 slices ({} pairs, {} conflict)",
        all.len(),
        expected.len()
    ));
    table.row(
        &format!("naive: 1 call of {} pairs", all.len()),
        format!("{}  ({} merged)", stats_ms(&naive_batch), all.len()),
    );
    table.row(
        &format!("naive: {} calls of 1 pair", all.len()),
        format!("{}  ({} merged)", stats_ms(&naive_single), all.len()),
    );
    table.row(
        "filtered, cold (open + changed paths + merges)",
        format!(
            "{}  ({merged_pairs} of {} merged)",
            stats_ms(&filtered_cold),
            all.len()
        ),
    );
    table.row(
        "filtered, warm (open + changed paths + merges)",
        format!("{}  ({merged_pairs} merged)", stats_ms(&filtered)),
    );
    if !filtered_paths.is_empty() {
        table.row(
            "  of which open + 20 x (merge_base + changed_paths)",
            stats_ms(&filtered_paths),
        );
        table.row(
            &format!("  of which {merged_pairs} calls of 1 pair"),
            stats_ms(&filtered_merges),
        );
    }
    table.row(
        "changed paths per slice",
        format!(
            "{}–{} (sum {})",
            path_counts.iter().min().unwrap_or(&0),
            path_counts.iter().max().unwrap_or(&0),
            path_counts.iter().sum::<usize>()
        ),
    );
}

// ---------------------------------------------------------------------------
// (c) merge commits and compare-and-swap

fn merges(git_dir: &Path, repo: &Path, tips: &[Oid], per_folder: usize, table: &mut Table) {
    println!(
        "(c) {} merges onto integration, merge_commit + move_branch",
        tips.len()
    );
    drop_page_cache(git_dir);
    let engine = MergeEngine::open(git_dir).expect("open");
    let start = engine
        .tip("integration")
        .expect("read")
        .expect("integration");
    let mut merge_times = Vec::new();
    let mut move_times = Vec::new();
    let mut totals = Vec::new();
    let mut conflict_times = Vec::new();
    let mut conflicted = BTreeSet::new();
    let mut first = None;
    for (k, &tip) in tips.iter().enumerate() {
        let started = Instant::now();
        let onto = engine
            .tip("integration")
            .expect("read")
            .expect("integration");
        let made = engine
            .merge_commit(onto, tip, &format!("Merge {}", branch(k)))
            .expect("merge");
        let merged = started.elapsed();
        match made {
            Made::Commit(commit) => {
                let at = Instant::now();
                engine
                    .move_branch(
                        "integration",
                        commit,
                        Some(onto),
                        &format!("bench: merge s{k:02}"),
                    )
                    .expect("the compare-and-swap");
                move_times.push(at.elapsed());
                merge_times.push(merged);
                totals.push(started.elapsed());
                first.get_or_insert(started.elapsed());
            }
            Made::Conflicts { .. } => {
                conflict_times.push(merged);
                conflicted.insert(k);
            }
        }
    }
    let expected: BTreeSet<usize> = CONFLICTING
        .iter()
        .map(|&(_, b)| b)
        .chain([CONFLICTS_WITH_TIP])
        .collect();
    assert_eq!(conflicted, expected, "the merges that conflict");
    // A compare-and-swap from a tip the branch has left is refused.
    let now = engine
        .tip("integration")
        .expect("read")
        .expect("integration");
    assert!(
        engine
            .move_branch("integration", start, Some(start), "bench: stale")
            .is_err(),
        "a stale compare-and-swap was refused"
    );
    assert_eq!(engine.tip("integration").expect("read"), Some(now));
    let merges = git(repo, &["rev-list", "--merges", "--count", "integration"]);
    assert_eq!(
        merges.trim(),
        (tips.len() - expected.len()).to_string(),
        "merge commits on integration"
    );
    for k in [0, CONTENT_MERGE_WITH_TIP, 6, 12] {
        // Every merged slice's first file shows its line; the shared files
        // both sides' lines.
        let n = Layout::own_models(k, 1, per_folder)[0];
        let text = git(
            repo,
            &[
                "show",
                &format!("integration:{}", model_path(n, per_folder)),
            ],
        );
        assert!(
            text.contains(&format!("'s{k:02}' as touched_by")),
            "s{k:02}'s change merged: {text}"
        );
    }
    let fsck = Command::new("git")
        .args([
            "fsck",
            "--connectivity-only",
            "--no-dangling",
            "--no-progress",
        ])
        .current_dir(repo)
        .output()
        .expect("git fsck");
    assert!(
        fsck.status.success(),
        "git fsck: {}",
        String::from_utf8_lossy(&fsck.stderr)
    );

    let goal = Duration::from_millis(300);
    table.section(&format!(
        "(c) merge + compare-and-swap onto integration ({} landed, {} conflicted)",
        totals.len(),
        conflicted.len()
    ));
    table.row(
        "merge_commit + move_branch, per slice",
        format!(
            "{}  [{}]",
            stats_ms(&totals),
            if totals.iter().all(|t| *t < goal) {
                "all under 300 ms"
            } else {
                "NOT all under 300 ms"
            }
        ),
    );
    table.row("  merge_commit", stats_ms(&merge_times));
    table.row("  move_branch (compare-and-swap)", stats_ms(&move_times));
    if let Some(first) = first {
        table.row("  the first, cold", format!("{:.1} ms", ms(first)));
    }
    table.row(
        "merge_commit that found a conflict",
        stats_ms(&conflict_times),
    );
}

// ---------------------------------------------------------------------------
// (d) the binary

/// Stops the supervisor of a repository when dropped.
struct Stopper<'a> {
    bin: &'a Path,
    root: PathBuf,
}

impl Drop for Stopper<'_> {
    fn drop(&mut self) {
        let _ = Command::new(self.bin)
            .arg("-C")
            .arg(&self.root)
            .arg("stop")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn through_the_binary(bin: &Path, tmp: &Path, layout: &Layout, count: usize, table: &mut Table) {
    let chosen: Vec<usize> = UNTANGLED[..count].to_vec();
    let names: Vec<String> = chosen.iter().map(|k| format!("s{k:02}")).collect();
    println!(
        "(d) {} up, approve --force and merge of {}",
        bin.display(),
        names.join(", ")
    );
    let root = tmp.join("cli/repo");
    let mut plan = String::from(
        "base = \"main\"\nintegration = \"integration\"\nbranch = \"slice/{slice}\"\n\
         worktrees = \"../slices/{slice}\"\nmax_running = 20\n\n[agent]\ncommand = \"sleep 600\"\n",
    );
    for k in 0..SLICES {
        plan.push_str(&format!(
            "\n[[slice]]\nname = \"s{k:02}\"\nowns = [\"models/area_{k:02}/**\"]\nprompt = \"Refactor area {k:02}.\"\n"
        ));
    }
    let (_, built) = timed(|| {
        layout.build(&root, Some(&plan));
        git(&root, &["reset", "--quiet", "--hard"]);
    });
    let sb = |args: &[&str]| -> (String, Duration) {
        let started = Instant::now();
        let out = Command::new(bin)
            .arg("-C")
            .arg(&root)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run sliceboard");
        let took = started.elapsed();
        assert!(
            out.status.success(),
            "sliceboard {args:?}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (String::from_utf8_lossy(&out.stdout).into_owned(), took)
    };
    let mut up_args = vec!["up"];
    up_args.extend(names.iter().map(String::as_str));
    let (_, up) = sb(&up_args);
    let _stopper = Stopper {
        bin,
        root: root.clone(),
    };
    // Started in the background; its output goes to a file of its own, so
    // no pipe of ours stays open.
    let started = Instant::now();
    let log = std::fs::File::create(tmp.join("cli/first-queue.out")).expect("output file");
    let status = Command::new(bin)
        .arg("-C")
        .arg(&root)
        .arg("queue")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("output file"))
        .stderr(log)
        .status()
        .expect("sliceboard queue");
    assert!(status.success(), "the first sliceboard queue failed");
    let first_queue = started.elapsed();
    // Let the supervisor's first diffs of the worktrees finish.
    std::thread::sleep(Duration::from_secs(3));

    let queue: Vec<Duration> = (0..5).map(|_| sb(&["queue"]).1).collect();
    let mut approve = Vec::new();
    for name in &names {
        let (said, took) = sb(&["approve", name, "--force"]);
        assert!(said.contains("approved"), "approve {name}: {said}");
        approve.push(took);
    }
    let mut merge = Vec::new();
    for name in &names {
        let (said, took) = sb(&["merge", name]);
        assert!(said.contains(name.as_str()), "merge {name}: {said}");
        merge.push(took);
    }
    let merges = git(&root, &["rev-list", "--merges", "--count", "integration"]);
    assert_eq!(
        merges.trim(),
        count.to_string(),
        "merge commits on integration"
    );
    let (said, _) = sb(&["queue"]);
    let merged_lines = said.lines().filter(|l| l.contains("merged:")).count();
    assert_eq!(merged_lines, count, "the queue reports the merges: {said}");

    table.section(&format!(
        "(d) the binary, {count} slices up ({}), no [merge] check",
        names.join(", ")
    ));
    table.row(
        "set-up (untimed in the figures)",
        format!(
            "repository + checkout {:.1} s, `up` of {count} worktrees {:.1} s, first `queue` (starts the supervisor) {:.2} s",
            built.as_secs_f64(),
            up.as_secs_f64(),
            first_queue.as_secs_f64()
        ),
    );
    table.row(
        "`sliceboard queue` (round-trip floor), 5 runs",
        stats_ms(&queue),
    );
    table.row("`sliceboard approve S --force`", stats_ms(&approve));
    table.row("`sliceboard merge S`", stats_ms(&merge));
    drop(_stopper);
}

// ---------------------------------------------------------------------------
// the repository

/// What each slice changes, and the integration commit.
struct Layout {
    files: usize,
    per_folder: usize,
    /// Per slice: path -> new content, `None` to delete.
    slices: Vec<BTreeMap<String, Option<String>>>,
    integration: BTreeMap<String, Option<String>>,
}

impl Layout {
    fn new(files: usize) -> Self {
        let per_folder = files.div_ceil(FOLDERS);
        let mut slices: Vec<BTreeMap<String, Option<String>>> = vec![BTreeMap::new(); SLICES];
        let first = |k: usize| Self::own_models(k, 1, per_folder)[0];
        // Files shared on purpose, counted in the first slice's total.
        let mut shared = [0usize; SLICES];
        for &(a, b) in &CONFLICTING {
            let n = first(b);
            slices[a].insert(
                model_path(n, per_folder),
                Some(rewrite_line3(n, &format!("s{a:02}"))),
            );
            shared[a] += 1;
        }
        for &(a, b) in &OVERLAPPING {
            let n = first(b);
            slices[a].insert(
                model_path(n, per_folder),
                Some(rewrite_line1(n, &format!("s{a:02}"))),
            );
            shared[a] += 1;
        }
        for k in 0..SLICES {
            let tag = format!("s{k:02}");
            let modified = CHANGED[k] - 3 - shared[k];
            for n in Self::own_models(k, modified, per_folder) {
                slices[k].insert(model_path(n, per_folder), Some(own_change(n, &tag)));
            }
            for i in 0..2 {
                slices[k].insert(
                    format!("models/area_{k:02}/sub_{:02}/new_{tag}_{i}.sql", i * 7),
                    Some(format!(
                        "-- new in {tag}\nselect {i} as id, '{tag}' as slice\n"
                    )),
                );
            }
            // The last model of the area's last folder (never modified).
            let last = (k * SUBS + SUBS - 1) * per_folder + per_folder - 1;
            slices[k].insert(model_path(last, per_folder), None);
        }
        for &(a, b) in CONFLICTING.iter().chain(&OVERLAPPING) {
            // The second slice of a pair changes its first file itself.
            assert!(
                slices[b].contains_key(&model_path(first(b), per_folder)),
                "s{b} {a}"
            );
        }
        let mut integration = BTreeMap::new();
        let n = first(CONFLICTS_WITH_TIP);
        integration.insert(model_path(n, per_folder), Some(rewrite_line3(n, "earlier")));
        let n = first(CONTENT_MERGE_WITH_TIP);
        integration.insert(model_path(n, per_folder), Some(rewrite_line1(n, "earlier")));
        for area in [0, 7, 13] {
            // Second to last model of an area's last folder: no slice's.
            let n = (area * SUBS + SUBS - 1) * per_folder + per_folder - 2;
            integration.insert(model_path(n, per_folder), Some(rewrite_line3(n, "earlier")));
        }
        Self {
            files,
            per_folder,
            slices,
            integration,
        }
    }

    /// The first `count` models slice `k` changes in its own area: one per
    /// folder round the area's 20 folders, then the next model of each.
    fn own_models(k: usize, count: usize, per_folder: usize) -> Vec<usize> {
        (0..count)
            .map(|j| (k * SUBS + j % SUBS) * per_folder + j / SUBS)
            .collect()
    }

    /// Writes the repository with `git fast-import`: `main` (with `plan`
    /// as sliceboard.toml when given), `integration`, and the slices.
    fn build(&self, dir: &Path, plan: Option<&str>) {
        std::fs::create_dir_all(dir).expect("repository folder");
        git(dir, &["init", "--quiet", "--initial-branch=main"]);
        let mut child = Command::new("git")
            .args(["fast-import", "--quiet"])
            .current_dir(dir)
            .stdin(Stdio::piped())
            .spawn()
            .expect("git fast-import");
        {
            let mut out = std::io::BufWriter::new(child.stdin.take().expect("stdin"));
            let mut files = BTreeMap::new();
            for n in 0..self.files {
                files.insert(
                    model_path(n, self.per_folder),
                    Some(model_lines(n).join("\n") + "\n"),
                );
            }
            files.insert(".gitignore".to_owned(), Some("target/\nlogs/\n".to_owned()));
            if let Some(plan) = plan {
                files.insert("sliceboard.toml".to_owned(), Some(plan.to_owned()));
            }
            commit(
                &mut out,
                "refs/heads/main",
                None,
                1,
                EPOCH,
                "20k models",
                &files,
            );
            commit(
                &mut out,
                "refs/heads/integration",
                Some(1),
                2,
                EPOCH + 60,
                "Earlier merges",
                &self.integration,
            );
            for (k, changes) in self.slices.iter().enumerate() {
                commit(
                    &mut out,
                    &format!("refs/heads/{}", branch(k)),
                    Some(1),
                    3 + k,
                    EPOCH + 120 + k as u64,
                    &format!("Slice s{k:02}"),
                    changes,
                );
            }
            out.write_all(b"done\n").expect("write the stream");
            out.flush().expect("write the stream");
        }
        let status = child.wait().expect("git fast-import");
        assert!(status.success(), "git fast-import failed");
    }
}

fn commit(
    out: &mut impl std::io::Write,
    reference: &str,
    from: Option<usize>,
    mark: usize,
    time: u64,
    message: &str,
    changes: &BTreeMap<String, Option<String>>,
) {
    let who = format!("Bench Author <bench@example.com> {time} +0000");
    let mut text = format!(
        "commit {reference}\nmark :{mark}\nauthor {who}\ncommitter {who}\ndata {}\n{message}\n",
        message.len()
    );
    if let Some(from) = from {
        text.push_str(&format!("from :{from}\n"));
    }
    out.write_all(text.as_bytes()).expect("write the stream");
    for (path, content) in changes {
        match content {
            Some(content) => write!(
                out,
                "M 100644 inline {path}\ndata {}\n{content}\n",
                content.len()
            ),
            None => writeln!(out, "D {path}"),
        }
        .expect("write the stream");
    }
    out.write_all(b"\n").expect("write the stream");
}

fn branch(k: usize) -> String {
    format!("slice/s{k:02}")
}

/// Model `n` lives in folder `n / per_folder`.
fn model_path(n: usize, per_folder: usize) -> String {
    let folder = n / per_folder;
    format!(
        "models/area_{:02}/sub_{:02}/model_{n}.sql",
        folder / SUBS,
        folder % SUBS
    )
}

fn model_lines(n: usize) -> Vec<String> {
    vec![
        format!("-- model {n}"),
        "select".to_owned(),
        format!("    id, {n} as model"),
        format!("from {{{{ ref('model_{}') }}}}", n.saturating_sub(1)),
        "where true".to_owned(),
    ]
}

/// A slice's own change: line 3 rewritten, a line appended.
fn own_change(n: usize, tag: &str) -> String {
    let mut lines = model_lines(n);
    lines[2] = format!("    id, {n} as model, '{tag}' as touched_by");
    lines.push(format!("  and id > 0 -- {tag}"));
    lines.join("\n") + "\n"
}

/// Line 3 rewritten otherwise (conflicts with `own_change`).
fn rewrite_line3(n: usize, tag: &str) -> String {
    let mut lines = model_lines(n);
    lines[2] = format!("    id, {n} as model_id -- renamed in {tag}");
    lines.join("\n") + "\n"
}

/// Line 1 rewritten (merges cleanly with `own_change`).
fn rewrite_line1(n: usize, tag: &str) -> String {
    let mut lines = model_lines(n);
    lines[0] = format!("-- model {n}, documented in {tag}");
    lines.join("\n") + "\n"
}

// ---------------------------------------------------------------------------
// helpers

/// `HOME` in `dir`, git with no user or system config and a fixed identity.
fn fixed_environment(dir: &Path) {
    let home = dir.join("home");
    std::fs::create_dir_all(home.join(".config")).expect("home");
    let set = [
        ("HOME", home.display().to_string()),
        (
            "XDG_CONFIG_HOME",
            home.join(".config").display().to_string(),
        ),
        ("XDG_CACHE_HOME", home.join(".cache").display().to_string()),
        ("GIT_CONFIG_NOSYSTEM", "1".into()),
        ("GIT_CONFIG_GLOBAL", "/dev/null".into()),
        ("GIT_AUTHOR_NAME", "Bench Author".into()),
        ("GIT_AUTHOR_EMAIL", "bench@example.com".into()),
        ("GIT_COMMITTER_NAME", "Bench Author".into()),
        ("GIT_COMMITTER_EMAIL", "bench@example.com".into()),
        ("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z".into()),
        ("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z".into()),
        ("GIT_CONFIG_COUNT", "1".into()),
        ("GIT_CONFIG_KEY_0", "commit.gpgsign".into()),
        ("GIT_CONFIG_VALUE_0", "false".into()),
        ("SHELL", "/bin/bash".into()),
    ];
    // SAFETY: called first thing in main, before any other thread runs.
    unsafe {
        for (key, value) in set {
            std::env::set_var(key, value);
        }
        for key in [
            "TMUX",
            "TMUX_PANE",
            "GIT_DIR",
            "GIT_WORK_TREE",
            "GIT_INDEX_FILE",
            "GIT_COMMON_DIR",
            "SLICEBOARD_SLICE",
            "XDG_RUNTIME_DIR",
        ] {
            std::env::remove_var(key);
        }
    }
}

/// Runs git in `dir`; returns its stdout and panics with its stderr when
/// it fails.
fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run git");
    assert!(
        output.status.success(),
        "git {args:?} failed in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Drops every file under `dir` from the page cache (written back first),
/// so the next read comes from the disk. Only pages nobody maps go: call it
/// with no engine open.
fn drop_page_cache(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            drop_page_cache(&path);
        } else if kind.is_file()
            && let Ok(file) = std::fs::File::open(&path)
        {
            let fd = file.as_raw_fd();
            // SAFETY: fd is open for the duration of both calls.
            unsafe {
                libc::fdatasync(fd);
                libc::posix_fadvise(fd, 0, 0, libc::POSIX_FADV_DONTNEED);
            }
        }
    }
}

/// Bytes of the pack files in the page cache now (`mincore` of a mapping).
fn resident_pack_bytes(git_dir: &Path) -> usize {
    let page = 4096;
    let mut resident = 0;
    let packs = git_dir.join("objects/pack");
    for entry in std::fs::read_dir(packs).into_iter().flatten().flatten() {
        let Ok(file) = std::fs::File::open(entry.path()) else {
            continue;
        };
        let len = file.metadata().map_or(0, |m| m.len() as usize);
        if len == 0 {
            continue;
        }
        // SAFETY: a read-only shared mapping of a file we hold open,
        // unmapped before returning; mincore only reads the page table.
        unsafe {
            let map = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            );
            if map == libc::MAP_FAILED {
                continue;
            }
            let mut pages = vec![0u8; len.div_ceil(page)];
            if libc::mincore(map, len, pages.as_mut_ptr()) == 0 {
                resident += pages.iter().filter(|p| *p & 1 == 1).count() * page;
            }
            libc::munmap(map, len);
        }
    }
    resident
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("?".to_owned(), |m| m.trim().to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let git = Command::new("git")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!(
        "{cores} cores, {model}, Linux {}, {git}, load {}",
        kernel.trim(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    )
}

fn timed<T>(what: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let value = what();
    (value, started.elapsed())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// min / median / max in ms (the median of an even count: the lower middle).
fn stats_ms(times: &[Duration]) -> String {
    if times.is_empty() {
        return "–".to_owned();
    }
    let mut sorted = times.to_vec();
    sorted.sort();
    let median = sorted[(sorted.len() - 1) / 2];
    format!(
        "{:.1} / {:.1} / {:.1} ms (n={})",
        ms(sorted[0]),
        ms(median),
        ms(sorted[sorted.len() - 1]),
        sorted.len()
    )
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Rows printed at the end, grouped under section titles.
#[derive(Default)]
struct Table {
    rows: Vec<(String, Option<String>)>,
}

impl Table {
    fn section(&mut self, title: &str) {
        self.rows.push((title.to_owned(), None));
    }

    fn row(&mut self, what: &str, value: String) {
        self.rows.push((what.to_owned(), Some(value)));
    }

    fn print(&self) {
        let width = self
            .rows
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(w, _)| w.chars().count())
            .max()
            .unwrap_or(0);
        for (what, value) in &self.rows {
            match value {
                Some(value) => println!("  {what:<width$}  {value}"),
                None => println!("{what}"),
            }
        }
    }
}
