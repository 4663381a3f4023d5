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

const AGENT_SCRIPT: &str = include_str!("../assets/demo-agent.sh");
const PROFILES: &str = include_str!("../tests/fixtures/dbt_project/profiles.yml");

/// The slices the demo can split into, in merge order: name, folder,
/// slices that merge first.
const SLICES: &[(&str, &str, &[&str])] = &[
    ("staging-core", "models/staging/core", &[]),
    ("staging-catalog", "models/staging/catalog", &[]),
    (
        "intermediate",
        "models/intermediate",
        &["staging-core", "staging-catalog"],
    ),
    ("marts-finance", "models/marts/finance", &["intermediate"]),
    (
        "marts-marketing",
        "models/marts/marketing",
        &["intermediate"],
    ),
];

pub struct DemoOptions {
    pub dir: PathBuf,
    pub slices: usize,
    /// A dbt executable for the agents, if one was installed.
    pub dbt: Option<PathBuf>,
    /// Seconds between the stand-in agents' steps.
    pub pace: f32,
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
    Ok(repo)
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
    let mut out = String::from(
        "# The demo's plan: migrate a Redshift dbt project to DuckDB in parallel slices.\n\
         base = \"main\"\nintegration = \"migration\"\nmax_running = 4\n\n[agent]\n",
    );
    let _ = writeln!(out, "command = \"bash {}\"", agent.display());
    let _ = writeln!(out, "resume = \"bash {}\"", agent.display());
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
    out.push_str("\n[dbt]\ntarget = \"dev_{slice_ident}\"\nschema = \"dbt_{slice_ident}\"\n\n[merge]\ncheck = \"dbt build\"\n");
    let included: Vec<&str> = SLICES[..slices].iter().map(|(name, _, _)| *name).collect();
    for (i, (name, folder, after)) in SLICES[..slices].iter().enumerate() {
        let after: Vec<String> = after
            .iter()
            .filter(|a| included.contains(a))
            .map(|a| format!("\"{a}\""))
            .collect();
        let _ = write!(
            out,
            "\n[[slice]]\nname = \"{name}\"\nowns = [\"{folder}/**\"]\nprompt = \"Migrate the models in {folder} from Redshift SQL to DuckDB: GETDATE(), NVL and DATEADD. Keep column names.\"\n"
        );
        if !after.is_empty() {
            let _ = writeln!(out, "after = [{}]", after.join(", "));
        }
        match i {
            0 => out.push_str("env = { DEMO_ASK = \"1\" }\n"),
            1 => out.push_str("env = { DEMO_STRAY = \"1\" }\n"),
            _ => {}
        }
    }
    out
}

/// Every file of the sample project: about 20 models, their seeds, tests.
/// With fewer slices than folders, the folders left over belong to no
/// slice (and stay in Redshift SQL).
fn project_files() -> Vec<(String, String)> {
    let mut files = vec![
        ("dbt_project.yml".to_owned(), "name: shop\nversion: \"1.0.0\"\nprofile: shop\nmodel-paths: [\"models\"]\nseed-paths: [\"seeds\"]\nmacro-paths: [\"macros\"]\n".to_owned()),
        ("profiles.yml".to_owned(), PROFILES.to_owned()),
        (".gitignore".to_owned(), "target/\nlogs/\ndbt_packages/\n.user.yml\n*.duckdb\n*.duckdb.wal\n".to_owned()),
        (
            "macros/redshift_compat.sql".to_owned(),
            "-- Shared helpers; no slice owns this file.\n{% macro cents_to_dollars(col) %}({{ col }} / 100.0){% endmacro %}\n".to_owned(),
        ),
        (
            "README.md".to_owned(),
            "# shop\n\nA dbt project written for Redshift, being migrated to DuckDB slice by slice with sliceboard.\n".to_owned(),
        ),
    ];
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
            files.push((
                format!("models/intermediate/int_{name}_recent.sql"),
                format!(
                    "select *\nfrom {{{{ ref('stg_{name}') }}}}\nwhere created_at >= dateadd(day, -90, getdate())\n"
                ),
            ));
        }
    }
    files.push(("models/staging/schema.yml".to_owned(), schema));
    let marts = [
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
            "select id, nvl(label, 'unnamed') as product, created_at\nfrom {{ ref('int_products_recent') }}\n",
        ),
        (
            "marketing",
            "fct_shipments_late",
            "select id, created_at, dateadd(day, 5, created_at) as promised_by\nfrom {{ ref('int_shipments_recent') }}\n",
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
    for (group, name, sql) in marts {
        files.push((format!("models/marts/{group}/{name}.sql"), sql.to_owned()));
    }
    files
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
    eprintln!("dbt: installing dbt-core==1.11.* and dbt-duckdb==1.11.* (about a minute)…");
    let status = Command::new(venv.join("bin").join("pip"))
        .args([
            "install",
            "--progress-bar",
            "on",
            "dbt-core==1.11.*",
            "dbt-duckdb==1.11.*",
        ])
        .status()?;
    if !status.success() || !dbt.exists() {
        let _ = std::fs::remove_dir_all(&venv);
        bail!("pip could not install dbt; check that PyPI is reachable, then run the demo again");
    }
    eprintln!("dbt: ready");
    Ok(dbt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_orders_slices_and_drops_missing_dependencies() {
        let options = DemoOptions {
            dir: PathBuf::from("/d"),
            slices: 3,
            dbt: None,
            pace: 1.0,
        };
        let text = plan(
            3,
            Path::new("/d/demo-agent.sh"),
            Path::new("/bin/sliceboard"),
            &options,
        );
        assert!(text.contains("name = \"intermediate\""), "{text}");
        assert!(
            text.contains("after = [\"staging-core\", \"staging-catalog\"]"),
            "{text}"
        );
        assert!(!text.contains("marts-finance"), "{text}");
        assert!(text.contains("DEMO_ASK = \"1\""), "{text}");
    }

    #[test]
    fn about_twenty_models_in_redshift_sql() {
        let files = project_files();
        let models: Vec<_> = files
            .iter()
            .filter(|(p, _)| p.starts_with("models/") && p.ends_with(".sql"))
            .collect();
        assert_eq!(models.len(), 20);
        assert!(models.iter().any(|(_, sql)| sql.contains("getdate()")));
        assert!(models.iter().any(|(_, sql)| sql.contains("nvl(")));
        assert!(models.iter().any(|(_, sql)| sql.contains("dateadd(day")));
    }
}
