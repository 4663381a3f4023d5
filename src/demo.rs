//! `sliceboard demo`: a sample repository that shows the whole workflow
//! with no API keys. A dbt project on DuckDB whose models are written in
//! Redshift SQL (`GETDATE()`, `NVL`, `DATEADD`), a plan splitting the
//! migration into slices with a merge order, and scripted stand-in agents
//! (`assets/demo-agent.sh`) that edit their SQL, ask a question, stray
//! outside their slice once, run dbt against their own target and commit.
//!
//! Writes only under the folder it is given. Installing dbt (`--with-dbt`)
//! goes into a cached venv under `~/.cache/sliceboard/`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

use crate::domain::SliceName;
use crate::domain::guide::{Done, Guide, GuideStep};

const AGENT_SCRIPT: &str = include_str!("../assets/demo-agent.sh");
const PROFILES: &str = include_str!("../tests/fixtures/dbt_project/profiles.yml");

/// The slices the demo can split into, in merge order: name, the
/// folders (globs) it owns, slices that merge first. `staging-core` also
/// owns the shared macros; `staging-catalog` edits the same macro line
/// from outside its slice, so the two conflict, and `staging-catalog` is
/// the one slice nothing in the default four comes after: the refused
/// merge holds nobody up.
const SLICES: &[(&str, &[&str], &[&str])] = &[
    (
        "staging-core",
        &["models/staging/core/**", "macros/**"],
        &[],
    ),
    ("staging-catalog", &["models/staging/catalog/**"], &[]),
    (
        "intermediate",
        &["models/intermediate/**"],
        &["staging-core"],
    ),
    (
        "marts-finance",
        &["models/marts/finance/**"],
        &["intermediate"],
    ),
    (
        "marts-marketing",
        &["models/marts/marketing/**"],
        &["intermediate", "staging-catalog"],
    ),
];

/// The branch slices start from and merge into; the demo creates it from
/// `main`, which keeps the Redshift project as it was.
const INTEGRATION: &str = "migration";

/// The first line of every model not migrated yet: the merge check
/// (`dbt build --exclude tag:redshift`) builds every other model, so a
/// check passes as soon as what merged so far is DuckDB SQL.
const REDSHIFT_TAG: &str = "{{ config(tags=[\"redshift\"]) }}\n";

pub struct DemoOptions {
    pub dir: PathBuf,
    pub slices: usize,
    /// A dbt executable for the agents, if one was installed.
    pub dbt: Option<PathBuf>,
    /// Seconds between the stand-in agents' steps.
    pub pace: f32,
    /// The merge queue runs itself (`[merge] approve = "when-green"`,
    /// `on_failure = "feedback"`, `auto = true`).
    pub autopilot: bool,
}

/// Builds the sample repository under `options.dir`; returns its path.
pub fn create(options: &DemoOptions) -> anyhow::Result<PathBuf> {
    let slices = options.slices.clamp(2, SLICES.len());
    let repo = options.dir.join("shop");
    if repo.exists() {
        bail!(
            "{} already exists; pass another --dir, or remove it (and {}) first",
            repo.display(),
            options.dir.join("shop.slices").display()
        );
    }
    std::fs::create_dir_all(&repo).with_context(|| format!("cannot create {}", repo.display()))?;
    for (path, contents) in project_files() {
        let path = repo.join(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, contents)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let steps = guide(slices, options.dbt.is_some(), options.autopilot).text();
    let mut readme = std::fs::read_to_string(repo.join("README.md"))?;
    let _ = write!(readme, "\n## The demo\n\n```text\n{steps}```\n");
    std::fs::write(repo.join("README.md"), readme)?;
    let agent = options.dir.join("demo-agent.sh");
    std::fs::write(&agent, AGENT_SCRIPT)?;
    let sliceboard = std::env::current_exe().context("cannot find the sliceboard binary")?;
    std::fs::write(
        repo.join("sliceboard.toml"),
        plan(slices, &agent, &sliceboard, options),
    )?;

    git(&repo, &["init", "-q", "-b", "main"])?;
    git(&repo, &["add", "-A"])?;
    git(
        &repo,
        &[
            "commit",
            "-q",
            "-m",
            "A dbt project in Redshift SQL, and the plan to migrate it",
        ],
    )?;
    git(&repo, &["branch", INTEGRATION])?;
    eprint!("{steps}");
    Ok(repo)
}

/// What to do in the demo, step by step: printed when it is created, kept
/// in the sample's README, and shown beside the board (`G`), each step
/// ticked once the board shows it done.
pub fn guide(slices: usize, dbt: bool, autopilot: bool) -> Guide {
    if autopilot {
        autopilot_walkthrough(slices)
    } else {
        walkthrough(slices, dbt)
    }
}

fn name(slice: &str) -> SliceName {
    SliceName::parse(slice).expect("the demo's slice names are valid")
}

fn step(text: String, done_when: Vec<Done>) -> GuideStep {
    GuideStep { text, done_when }
}

/// Every later slice of the demo merged (what step 6 and the autopilot's
/// last step lead to).
fn later_merged(names: &[&str]) -> Vec<Done> {
    names
        .iter()
        .filter(|n| !n.starts_with("staging"))
        .map(|n| Done::Merged { slice: name(n) })
        .collect()
}

fn walkthrough(slices: usize, dbt: bool) -> Guide {
    let names: Vec<&str> = SLICES[..slices].iter().map(|(name, _, _)| *name).collect();
    let has = |name: &str| names.contains(&name);
    let check = if dbt {
        "`dbt build --exclude tag:redshift` (every model migrated so far) on the integration target"
    } else {
        "a lint of the migrated models (no dbt: pass --with-dbt for real builds)"
    };
    let (core, catalog) = (name("staging-core"), name("staging-catalog"));
    let mut first = "1. Start the agents: s on each slice. staging-core asks a question: Enter, y, Enter, then Ctrl-] to leave.\n   \
         staging-core edits the shared macro it owns; staging-catalog edits the same line from outside its slice."
        .to_owned();
    if has("intermediate") {
        first.push_str(
            "\n   Slices that come after others commit their SQL unbuilt and wait for those to merge.",
        );
    }
    let mut steps = vec![
        step(
            first,
            names
                .iter()
                .map(|n| Done::Started { slice: name(n) })
                .collect(),
        ),
        step(
            "2. Once both staging slices are ready, o shows the Queue: the two conflict in macros/redshift_compat.sql."
                .to_owned(),
            vec![Done::Conflict {
                a: core.clone(),
                b: catalog.clone(),
            }],
        ),
        step(
            "3. Approve (a, or `sliceboard approve SLICE`): both ask for a second look, the macro being shared (and\n   \
             staging-catalog strayed). Approve them anyway, the owner first:\n   \
             `sliceboard approve staging-core --force`, then `sliceboard approve staging-catalog --force`."
                .to_owned(),
            vec![
                Done::Approved {
                    slice: core.clone(),
                },
                Done::Approved {
                    slice: catalog.clone(),
                },
            ],
        ),
        step(
            format!(
                "4. Merge: M merges every ready slice, checking each with {check}:\n   \
                 staging-core merges; staging-catalog now conflicts with {INTEGRATION} and is skipped.\n   \
                 `sliceboard merge staging-catalog` tries it anyway: refused, the conflict is recorded."
            ),
            vec![Done::Merged { slice: core }],
        ),
        step(
            format!(
                "5. Feedback: F on staging-catalog pastes the queue's message into its agent (started again), which merges\n   \
                 {INTEGRATION} in, keeps the owner's macro, builds and commits. Approve it again (a: no second look now), M."
            ),
            vec![Done::Merged { slice: catalog }],
        ),
    ];
    if has("intermediate") {
        steps.push(step(
            "6. When a slice's upstream has merged (the Queue lists it under \"upstream merged\"), F on it: its agent merges\n   \
             the integration branch in, builds and commits; approve it (a) and merge it (M), in the plan's order:\n   \
             intermediate, then the marts."
                .to_owned(),
            later_merged(&names),
        ));
    }
    Guide {
        title: format!(
            "The demo, step by step (slices start from and merge into `{INTEGRATION}`; `main` keeps the Redshift project):"
        ),
        steps,
        notes: vec![
            "C cleans a merged slice (worktree and branch). From a shell: sliceboard queue, approve, merge [--all], feedback, clean.".to_owned(),
        ],
    }
}

/// The steps with `--autopilot`: what still needs the operator.
fn autopilot_walkthrough(slices: usize) -> Guide {
    let names: Vec<&str> = SLICES[..slices].iter().map(|(name, _, _)| *name).collect();
    let (core, catalog) = (name("staging-core"), name("staging-catalog"));
    Guide {
        title: format!(
            "The demo on autopilot (slices start from and merge into `{INTEGRATION}`; the queue runs itself):"
        ),
        steps: vec![
            step(
                "1. Start the agents: s on each slice. staging-core asks a question: y on its row answers it.".to_owned(),
                names.iter().map(|n| Done::Started { slice: name(n) }).collect(),
            ),
            step(
                "2. Watch the Queue (o): a slice whose agent is done and whose dbt build passed approves itself and merges\n   \
                 after the check; the Queue says what each other slice waits for."
                    .to_owned(),
                Vec::new(),
            ),
            step(
                format!(
                    "3. The two staging slices change the same macro line (staging-catalog from outside its slice), so neither\n   \
                     approves itself: the Queue says why. Approve the owner yourself (a on staging-core, then y): it merges.\n   \
                     Then approve staging-catalog (a, y): its conflict goes to its agent by itself, which merges `{INTEGRATION}` in\n   \
                     keeping the owner's macro; its fix approves itself and merges."
                ),
                vec![Done::Merged { slice: core }, Done::Merged { slice: catalog }],
            ),
            step(
                "4. Slices that come after others are told when those merge, merge them in, build, and merge in order."
                    .to_owned(),
                later_merged(&names),
            ),
        ],
        notes: vec![
            "H holds the queue (nothing automatic) and lets it go on. Every automatic step is in the Events tab.".to_owned(),
        ],
    }
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let output = Command::new("git")
        .args([
            "-c",
            "user.name=sliceboard demo",
            "-c",
            "user.email=demo@sliceboard.invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .context("cannot run git; install it (apt-get install git)")?;
    if !output.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

fn plan(slices: usize, agent: &Path, sliceboard: &Path, options: &DemoOptions) -> String {
    let mut out = format!(
        "# The demo's plan: migrate a Redshift dbt project to DuckDB in parallel slices.\n\
         # Slices start from `{INTEGRATION}` (made from `main`) and merge back into it.\n\
         base = \"{INTEGRATION}\"\nintegration = \"{INTEGRATION}\"\nmax_running = 4\n\n[agent]\n"
    );
    let _ = writeln!(out, "command = \"bash {}\"", agent.display());
    let _ = writeln!(out, "resume = \"bash {} --resume\"", agent.display());
    // The stand-in agents commit; give them an identity so a machine
    // without a git user still runs the demo.
    let mut env = format!(
        "DEMO_SLICEBOARD = \"{}\", DEMO_PACE = \"{}\", GIT_AUTHOR_NAME = \"demo agent {{slice}}\", GIT_AUTHOR_EMAIL = \"{{slice}}@agents.invalid\", GIT_COMMITTER_NAME = \"demo agent {{slice}}\", GIT_COMMITTER_EMAIL = \"{{slice}}@agents.invalid\"",
        sliceboard.display(),
        options.pace
    );
    if let Some(dbt) = &options.dbt {
        let _ = write!(env, ", DEMO_DBT = \"{}\"", dbt.display());
    }
    let _ = writeln!(out, "env = {{ {env} }}");
    out.push_str("\n[dbt]\ntarget = \"dev_{slice_ident}\"\nschema = \"dbt_{slice_ident}\"\n\n");
    // The check runs in the integration worktree with the plan's
    // environment (DEMO_DBT included) and the `integration` slice's dbt
    // target. Models still tagged `redshift` are the ones not merged yet.
    out.push_str(
        "[merge]\n# Every model migrated so far, built and tested on the integration target.\n",
    );
    if options.autopilot {
        out.push_str(
            "# The queue runs itself: green slices approve themselves, agents are told\n\
             # about conflicts, failed checks and upstream merges, ready slices merge.\n\
             auto = true\napprove = \"when-green\"\non_failure = \"feedback\"\n",
        );
    }
    if options.dbt.is_some() {
        out.push_str("check = \"\\\"$DEMO_DBT\\\" build --exclude tag:redshift\"\n");
    } else {
        let _ = writeln!(out, "check = \"bash {} --check\"", agent.display());
    }
    let included: Vec<&str> = SLICES[..slices].iter().map(|(name, _, _)| *name).collect();
    for (name, owns, after) in &SLICES[..slices] {
        let after: Vec<&str> = after
            .iter()
            .copied()
            .filter(|a| included.contains(a))
            .collect();
        let globs: Vec<String> = owns.iter().map(|g| format!("\"{g}\"")).collect();
        let folder = owns[0].trim_end_matches("/**");
        let _ = write!(
            out,
            "\n[[slice]]\nname = \"{name}\"\nowns = [{}]\nprompt = \"Migrate the models in {folder} from Redshift SQL to DuckDB: GETDATE(), NVL and DATEADD. Keep column names.\"\n",
            globs.join(", ")
        );
        if !after.is_empty() {
            let quoted: Vec<String> = after.iter().map(|a| format!("\"{a}\"")).collect();
            let _ = writeln!(out, "after = [{}]", quoted.join(", "));
        }
        let mut env: Vec<String> = match *name {
            "staging-core" => vec!["DEMO_ASK = \"1\"".into(), "DEMO_MACRO = \"1\"".into()],
            "staging-catalog" => vec!["DEMO_STRAY = \"1\"".into()],
            _ => Vec::new(),
        };
        if !after.is_empty() {
            env.push(format!("DEMO_AFTER = \"{}\"", after.join(" ")));
        }
        if !env.is_empty() {
            let _ = writeln!(out, "env = {{ {} }}", env.join(", "));
        }
    }
    out
}

/// Every file of the sample project: about 20 models, their seeds, tests.
/// With fewer slices than folders, the folders left over belong to no
/// slice (and stay in Redshift SQL).
fn project_files() -> Vec<(String, String)> {
    let mut files = project_settings();
    files.extend(staging_files());
    files.extend(later_models());
    for (path, sql) in &mut files {
        if path.starts_with("models/") && path.ends_with(".sql") {
            sql.insert_str(0, REDSHIFT_TAG);
        }
    }
    files
}

/// The project's own files: dbt's settings, the profile, what git
/// ignores, the shared macros and the README.
fn project_settings() -> Vec<(String, String)> {
    vec![
        ("dbt_project.yml".to_owned(), "name: shop\nversion: \"1.0.0\"\nprofile: shop\nmodel-paths: [\"models\"]\nseed-paths: [\"seeds\"]\nmacro-paths: [\"macros\"]\n".to_owned()),
        ("profiles.yml".to_owned(), PROFILES.to_owned()),
        (".gitignore".to_owned(), "target/\nlogs/\ndbt_packages/\n.user.yml\n*.duckdb\n*.duckdb.wal\n".to_owned()),
        (
            "macros/redshift_compat.sql".to_owned(),
            "-- Shared helpers; staging-core owns them.\n{% macro cents_to_dollars(col) %}({{ col }} / 100.0){% endmacro %}\n".to_owned(),
        ),
        (
            "README.md".to_owned(),
            "# shop\n\nA dbt project written for Redshift, being migrated to DuckDB slice by slice with sliceboard.\n".to_owned(),
        ),
    ]
}

/// Per source entity: its seed, its staging model and the schema's tests,
/// and for the core ones an `int_*_recent` model.
fn staging_files() -> Vec<(String, String)> {
    let mut files = Vec::new();
    let entities = [
        ("core", &["orders", "customers", "payments"][..]),
        ("catalog", &["products", "shipments"][..]),
    ];
    let mut schema = String::from("version: 2\nmodels:\n");
    for (group, names) in entities {
        for name in names {
            files.push((
                format!("seeds/raw_{name}.csv"),
                format!("id,label,created_at,amount_cents\n1,first {name},2026-01-02,1250\n2,,2026-01-05,990\n3,third {name},2026-02-01,4200\n"),
            ));
            files.push((
                format!("models/staging/{group}/stg_{name}.sql"),
                format!(
                    "select\n    id,\n    nvl(label, 'unknown') as label,\n    created_at,\n    dateadd(day, 30, created_at) as due_at,\n    {{{{ cents_to_dollars('amount_cents') }}}} as amount,\n    getdate() as loaded_at\nfrom {{{{ ref('raw_{name}') }}}}\n"
                ),
            ));
            let _ = write!(
                schema,
                "  - name: stg_{name}\n    columns:\n      - name: id\n        tests: [not_null, unique]\n"
            );
            if group == "core" {
                files.push((
                    format!("models/intermediate/int_{name}_recent.sql"),
                    format!(
                        "select *\nfrom {{{{ ref('stg_{name}') }}}}\nwhere created_at >= dateadd(day, -90, getdate())\n"
                    ),
                ));
            }
        }
    }
    files.push(("models/staging/schema.yml".to_owned(), schema));
    files
}

/// The intermediate and mart models: (folder, name, SQL). Intermediate
/// models read only the core staging models, so catalog's staging slice is
/// not upstream of them.
const LATER_MODELS: &[(&str, &str, &str)] = &[
    (
        "intermediate",
        "int_order_payments",
        "select o.id, o.created_at, nvl(p.amount, 0) as paid\nfrom {{ ref('stg_orders') }} o\nleft join {{ ref('stg_payments') }} p on p.id = o.id\n",
    ),
    (
        "intermediate",
        "int_customer_renewals",
        "select id, created_at as first_seen_at, dateadd(day, 365, created_at) as renew_by\nfrom {{ ref('stg_customers') }}\n",
    ),
    (
        "finance",
        "fct_revenue",
        "select date_trunc('month', o.created_at) as month, sum(nvl(p.amount, 0)) as revenue\nfrom {{ ref('int_orders_recent') }} o\nleft join {{ ref('int_payments_recent') }} p on p.id = o.id\ngroup by 1\n",
    ),
    (
        "finance",
        "fct_payments_due",
        "select id, due_at, nvl(amount, 0) as amount, getdate() as as_of\nfrom {{ ref('stg_payments') }}\n",
    ),
    (
        "finance",
        "dim_orders",
        "select id, label, created_at, dateadd(day, 7, created_at) as ship_by\nfrom {{ ref('stg_orders') }}\n",
    ),
    (
        "finance",
        "fct_daily_orders",
        "select cast(created_at as date) as day, count(*) as orders, getdate() as as_of\nfrom {{ ref('stg_orders') }}\ngroup by 1\n",
    ),
    (
        "finance",
        "fct_late_payments",
        "select id, due_at\nfrom {{ ref('stg_payments') }}\nwhere due_at < dateadd(day, -1, getdate())\n",
    ),
    (
        "marketing",
        "dim_products",
        "select id, nvl(label, 'unnamed') as product, created_at\nfrom {{ ref('stg_products') }}\n",
    ),
    (
        "marketing",
        "fct_shipments_late",
        "select id, created_at, dateadd(day, 5, created_at) as promised_by\nfrom {{ ref('stg_shipments') }}\n",
    ),
    (
        "marketing",
        "dim_customers",
        "select id, nvl(label, 'anonymous') as customer, created_at\nfrom {{ ref('int_customers_recent') }}\n",
    ),
    (
        "marketing",
        "fct_catalog_reach",
        "select p.id, p.label as product, count(s.id) as shipments\nfrom {{ ref('stg_products') }} p\nleft join {{ ref('stg_shipments') }} s on s.id = p.id\ngroup by 1, 2\n",
    ),
    (
        "marketing",
        "fct_new_customers",
        "select count(*) as new_customers, getdate() as as_of\nfrom {{ ref('stg_customers') }}\nwhere created_at > dateadd(day, -365, getdate())\n",
    ),
];

/// The intermediate and mart models as files.
fn later_models() -> Vec<(String, String)> {
    LATER_MODELS
        .iter()
        .map(|(folder, name, sql)| {
            let path = if *folder == "intermediate" {
                format!("models/intermediate/{name}.sql")
            } else {
                format!("models/marts/{folder}/{name}.sql")
            };
            (path, (*sql).to_owned())
        })
        .collect()
}

/// A venv with dbt-core and dbt-duckdb 1.11 under the user's cache,
/// created once; returns its dbt executable. Progress goes to stderr.
pub fn install_dbt() -> anyhow::Result<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .context("neither XDG_CACHE_HOME nor HOME is set")?;
    let venv = cache.join("sliceboard").join("dbt-1.11-venv");
    let dbt = venv.join("bin").join("dbt");
    if dbt.exists() {
        eprintln!("dbt: using {}", dbt.display());
        return Ok(dbt);
    }
    let python = ["python3", "python"]
        .into_iter()
        .find(|p| {
            Command::new(p)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .context("--with-dbt needs Python 3 with venv (apt-get install python3 python3-venv)")?;
    eprintln!("dbt: creating a Python venv at {} (once)…", venv.display());
    let status = Command::new(python)
        .args(["-m", "venv"])
        .arg(&venv)
        .status()?;
    if !status.success() {
        bail!("could not create a venv with {python}; install python3-venv");
    }
    // 1.12 pulls a package whose build downloads from the web.
    let log = cache.join("sliceboard").join("dbt-1.11-install.log");
    let installed = pip_install(
        &venv.join("bin").join("pip"),
        &["dbt-core==1.11.*", "dbt-duckdb==1.11.*"],
        &log,
    )?;
    if !installed || !dbt.exists() {
        let _ = std::fs::remove_dir_all(&venv);
        bail!(
            "pip could not install dbt (its output: {}); check that PyPI is reachable, then run the demo again",
            log.display()
        );
    }
    Ok(dbt)
}

/// Runs `pip install PACKAGES`, its whole output kept in `log`, and shows
/// one progress line on stderr: rewritten in place at a terminal, a line
/// per step otherwise. On failure the log's last lines are printed.
fn pip_install(pip: &Path, packages: &[&str], log: &Path) -> anyhow::Result<bool> {
    use std::io::{BufRead as _, IsTerminal as _, Write as _};
    let mut file =
        std::fs::File::create(log).with_context(|| format!("cannot write {}", log.display()))?;
    let mut child = Command::new(pip)
        .arg("install")
        .args(packages)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(file.try_clone()?)
        .spawn()
        .with_context(|| format!("cannot run {}", pip.display()))?;
    let stdout = child.stdout.take().context("pip's output")?;
    let (lines, arrived) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Read to the end whatever pip writes (a line that is not UTF-8
        // included): a reader that stopped would leave pip blocked on a
        // full pipe.
        let mut reader = std::io::BufReader::new(stdout);
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
            let text = String::from_utf8_lossy(&line).trim_end().to_owned();
            let _ = lines.send(text);
            line.clear();
        }
    });
    let tty = std::io::stderr().is_terminal();
    let started = std::time::Instant::now();
    let mut progress = PipProgress::default();
    let mut shown = String::new();
    eprintln!(
        "dbt: installing {} (about a minute, once)",
        packages.join(" and ")
    );
    loop {
        let line = arrived.recv_timeout(std::time::Duration::from_secs(1));
        let ended = matches!(line, Err(std::sync::mpsc::RecvTimeoutError::Disconnected));
        if let Ok(line) = &line {
            let _ = writeln!(file, "{line}");
            progress.read(line);
        }
        let now = progress.line(started.elapsed().as_secs());
        if tty {
            eprint!("\r\x1b[K{now}");
            let _ = std::io::stderr().flush();
        } else if progress.step() != shown {
            // Off a terminal, a line for each step, not each package.
            shown = progress.step();
            eprintln!("{now}");
        }
        if ended {
            break;
        }
    }
    if tty {
        eprintln!();
    }
    let ok = child.wait()?.success();
    if ok {
        eprintln!(
            "dbt: ready: {} packages in {} s",
            progress.installing.max(progress.collected),
            started.elapsed().as_secs()
        );
    } else {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        for line in &lines[lines.len().saturating_sub(15)..] {
            eprintln!("  {line}");
        }
    }
    Ok(ok)
}

/// What pip's output says of an install so far.
#[derive(Debug, Default)]
struct PipProgress {
    /// `Collecting NAME` lines: packages found (downloaded or cached).
    collected: usize,
    /// The package collected last.
    latest: String,
    /// From `Installing collected packages: a, b, c`.
    installing: usize,
}

impl PipProgress {
    fn read(&mut self, line: &str) {
        if let Some(spec) = line.strip_prefix("Collecting ") {
            self.collected += 1;
            let end = spec
                .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
                .unwrap_or(spec.len());
            self.latest = spec[..end].to_owned();
        } else if let Some(list) = line.strip_prefix("Installing collected packages: ") {
            self.installing = list.split(',').filter(|p| !p.trim().is_empty()).count();
        }
    }

    /// The step, without its counts' changes: a line is printed per step
    /// where the progress line cannot be rewritten.
    fn step(&self) -> String {
        match (self.installing, self.collected) {
            (0, 0) => "starting".into(),
            (0, _) => "collecting".into(),
            (n, _) => format!("installing {n}"),
        }
    }

    fn line(&self, seconds: u64) -> String {
        match (self.installing, self.collected) {
            (0, 0) => format!("dbt: pip starts ({seconds} s)"),
            (0, n) => format!(
                "dbt: collecting packages: {n} so far ({}), {seconds} s",
                self.latest
            ),
            (n, _) => format!("dbt: installing {n} packages, {seconds} s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as pip 23 printed them installing dbt-duckdb 1.11.
    #[test]
    fn pips_output_reads_as_one_progress_line_per_step() {
        let mut progress = PipProgress::default();
        assert_eq!(progress.line(0), "dbt: pip starts (0 s)");
        for line in [
            "Looking in links: /opt/wheels",
            "Collecting dbt-core==1.11.*",
            "  Downloading dbt_core-1.11.16-py3-none-any.whl (1.1 MB)",
            "     ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ 1.1/1.1 MB 203.1 MB/s eta 0:00:00",
            "Collecting agate<1.10,>=1.7.0 (from dbt-core==1.11.*)",
        ] {
            progress.read(line);
        }
        assert_eq!(progress.step(), "collecting");
        assert_eq!(
            progress.line(14),
            "dbt: collecting packages: 2 so far (agate), 14 s"
        );
        progress.read("Installing collected packages: text-unidecode, pytz, dbt-core, dbt-duckdb");
        assert_eq!(progress.step(), "installing 4");
        assert_eq!(progress.line(40), "dbt: installing 4 packages, 40 s");
        progress.read("Successfully installed dbt-core-1.11.16 dbt-duckdb-1.11.1");
        assert_eq!(progress.step(), "installing 4");
    }

    #[test]
    fn the_plan_orders_slices_and_drops_missing_dependencies() {
        let options = DemoOptions {
            dir: PathBuf::from("/d"),
            slices: 3,
            dbt: None,
            pace: 1.0,
            autopilot: false,
        };
        let text = plan(
            3,
            Path::new("/d/demo-agent.sh"),
            Path::new("/bin/sliceboard"),
            &options,
        );
        assert!(text.contains("name = \"intermediate\""), "{text}");
        assert!(text.contains("after = [\"staging-core\"]"), "{text}");
        assert!(text.contains("DEMO_AFTER = \"staging-core\""), "{text}");
        assert!(!text.contains("marts-finance"), "{text}");
        assert!(text.contains("DEMO_ASK = \"1\""), "{text}");
        assert!(text.contains("base = \"migration\""), "{text}");
        assert!(
            text.contains("resume = \"bash /d/demo-agent.sh --resume\""),
            "{text}"
        );
        // Without dbt, the merge check is the script's lint.
        assert!(
            text.contains("check = \"bash /d/demo-agent.sh --check\""),
            "{text}"
        );
        let plan: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(plan["slice"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn the_two_staging_slices_share_the_macro_and_marketing_waits_for_catalog() {
        let options = DemoOptions {
            dir: PathBuf::from("/d"),
            slices: 5,
            dbt: Some(PathBuf::from("/venv/bin/dbt")),
            pace: 1.0,
            autopilot: false,
        };
        let text = plan(
            5,
            Path::new("/d/demo-agent.sh"),
            Path::new("/bin/sliceboard"),
            &options,
        );
        let plan: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(
            plan["merge"]["check"].as_str(),
            Some("\"$DEMO_DBT\" build --exclude tag:redshift")
        );
        let slices = plan["slice"].as_array().unwrap();
        let core = &slices[0];
        assert!(
            core["owns"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g.as_str() == Some("macros/**"))
        );
        assert_eq!(core["env"]["DEMO_MACRO"].as_str(), Some("1"));
        assert_eq!(slices[1]["env"]["DEMO_STRAY"].as_str(), Some("1"));
        assert_eq!(
            slices[4]["env"]["DEMO_AFTER"].as_str(),
            Some("intermediate staging-catalog")
        );
        // In the default four, no slice comes after staging-catalog, so its
        // conflict holds nobody up.
        assert!(slices[..4].iter().all(|s| {
            s.get("after")
                .and_then(|a| a.as_array())
                .is_none_or(|a| a.iter().all(|d| d.as_str() != Some("staging-catalog")))
        }));
    }

    #[test]
    fn about_twenty_models_in_redshift_sql() {
        let files = project_files();
        let models: Vec<_> = files
            .iter()
            .filter(|(p, _)| p.starts_with("models/") && p.ends_with(".sql"))
            .collect();
        assert_eq!(models.len(), 20);
        // Not migrated yet: the merge check leaves them out.
        assert!(models.iter().all(|(_, sql)| sql.starts_with(REDSHIFT_TAG)));
        assert!(models.iter().any(|(_, sql)| sql.contains("getdate()")));
        assert!(models.iter().any(|(_, sql)| sql.contains("nvl(")));
        assert!(models.iter().any(|(_, sql)| sql.contains("dateadd(day")));
    }
}
