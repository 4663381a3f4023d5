#!/usr/bin/env python3
"""A generated dbt project shaped like a large real one, for
benches/plan_dbt.sh: the project two folders down its repository
(analytics/transform/), staging per source, intermediate and marts per
domain, small `reports` and `utilities` folders (reports ref marts,
intermediate refs utilities: merging the two small folders would invent a
cycle), YAML beside the models (one marts YAML documents several
domains), singular tests in `data-tests/` (the project's test-paths), seeds,
snapshots, analyses, macros, an installed package in dbt_packages/ (never
committed, never fetched), and files outside the project.

usage: gen_dbt_plan_project.py DIR [MODELS]   (default 500; seeded, so the same
every time)
"""

import os
import random
import subprocess
import sys

out = sys.argv[1]
total = int(sys.argv[2]) if len(sys.argv) > 2 else 500
rng = random.Random(29)
project = os.path.join(out, "analytics", "transform")


def write(path, text):
    path = os.path.join(project, path) if not path.startswith("/") else path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def outside(path, text):
    write(os.path.join(out, path), text)


sources = ["stripe", "salesforce", "hubspot", "zendesk", "segment", "postgres",
           "jira", "github", "netsuite", "shopify", "intercom", "marketo"]
domains = ["finance", "sales", "product", "support", "marketing", "ops"]
# Shares of the models: staging 36%, intermediate 30%, marts 24%, the rest
# reports and utilities.
n_stg = total * 36 // 100
n_int = total * 30 // 100
n_mart = total * 24 // 100
n_util = max(4, total * 2 // 100)
n_rpt = total - n_stg - n_int - n_mart - n_util

write("dbt_project.yml", """name: analytics
version: "1.0.0"
config-version: 2
profile: analytics
model-paths: ["models"]
seed-paths: ["seeds"]
test-paths: ["data-tests"]
analysis-paths: ["analyses"]
macro-paths: ["macros"]
snapshot-paths: ["snapshots"]
""")
write("profiles.yml", "analytics:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: dev.duckdb\n")
write("packages.yml", "packages:\n  - package: dbt-labs/dbt_project_evaluator\n    version: 1.0.0\n")
write(".gitignore", "target/\nlogs/\ndbt_packages/\n*.duckdb\n")
outside("README.md", "# analytics\n")
outside("airflow/dags/daily.py", "# runs dbt build\n")
outside("airflow/dags/hourly.py", "# runs dbt build\n")
outside("scripts/load.sh", "#!/bin/sh\n")

# The installed package: its models ref each other, never the project's.
pkg = "dbt_packages/dbt_project_evaluator"
write(f"{pkg}/dbt_project.yml", "name: dbt_project_evaluator\nversion: \"1.0.0\"\nconfig-version: 2\n")
pkg_models = []
for i in range(48):
    folder = ["staging/graph", "marts/core", "marts/dag", "marts/tests"][i % 4]
    name = f"eval_{i:02d}"
    refs = [f"{{{{ ref('{p}') }}}}" for p in rng.sample(pkg_models, min(2, len(pkg_models)))]
    body = "select 1 as id" + "".join(f" from {r}" if j == 0 else f" cross join {r}" for j, r in enumerate(refs))
    write(f"{pkg}/models/{folder}/{name}.sql", body + "\n")
    pkg_models.append(name)

models = {}  # name -> (folder, refs)


def model(folder, name, refs, extra=""):
    models[name] = (folder, refs)
    froms = [f"{{{{ ref('{r}') }}}}" for r in refs] + ([extra] if extra else [])
    body = "select 1 as id"
    if froms:
        body += " from " + froms[0] + "".join(f" cross join {f}" for f in froms[1:])
    write(f"models/{folder}/{name}.sql", body + "\n")


# Staging: one folder per source, each with its sources and models YAML.
stg_by_source = {s: [] for s in sources}
for i in range(n_stg):
    source = sources[i % len(sources)]
    table = f"t{i // len(sources):02d}"
    name = f"stg_{source}__{table}"
    model(f"staging/{source}", name, [], f"{{{{ source('{source}', '{table}') }}}}")
    stg_by_source[source].append(name)
for source, names in stg_by_source.items():
    tables = "".join(f"      - name: {n.split('__')[1]}\n" for n in names)
    write(f"models/staging/{source}/_{source}__sources.yml",
          f"version: 2\nsources:\n  - name: {source}\n    schema: raw_{source}\n    tables:\n{tables}")
    docs = "".join(f"  - name: {n}\n    columns:\n      - name: id\n        data_tests: [not_null]\n" for n in names)
    write(f"models/staging/{source}/_{source}__models.yml", f"version: 2\nmodels:\n{docs}")

# Utilities: date spines and the like, read by intermediate models.
utils = []
for i in range(n_util):
    name = f"util_spine_{i:02d}"
    model("utilities", name, [])
    utils.append(name)
write("models/utilities/_utilities__models.yml",
      "version: 2\nmodels:\n" + "".join(f"  - name: {u}\n" for u in utils))

# Intermediate: per domain, reading two or three sources' staging models,
# earlier models of the domain and now and then a utility.
int_by_domain = {d: [] for d in domains}
domain_sources = {d: rng.sample(sources, 3) for d in domains}
for i in range(n_int):
    domain = domains[i % len(domains)]
    name = f"int_{domain}__step_{i // len(domains):02d}"
    refs = [rng.choice(stg_by_source[s]) for s in rng.sample(domain_sources[domain], 2)]
    if int_by_domain[domain] and rng.random() < 0.6:
        refs.append(rng.choice(int_by_domain[domain]))
    if rng.random() < 0.15:
        refs.append(rng.choice(utils))
    model(f"intermediate/{domain}", name, sorted(set(refs)))
    int_by_domain[domain].append(name)
for domain, names in int_by_domain.items():
    write(f"models/intermediate/{domain}/_int_{domain}__models.yml",
          "version: 2\nmodels:\n" + "".join(f"  - name: {n}\n" for n in names))

# Marts: per domain, from the domain's intermediate models and now and then
# another domain's mart.
mart_by_domain = {d: [] for d in domains}
for i in range(n_mart):
    domain = domains[i % len(domains)]
    kind = "fct" if i % 3 else "dim"
    name = f"{kind}_{domain}_{i // len(domains):02d}"
    refs = rng.sample(int_by_domain[domain], 2)
    other = rng.choice(domains)
    if other != domain and mart_by_domain[other] and rng.random() < 0.2:
        refs.append(rng.choice(mart_by_domain[other]))
    model(f"marts/{domain}", name, sorted(set(refs)))
    mart_by_domain[domain].append(name)
for domain, names in mart_by_domain.items():
    if domain in ("finance", "sales"):
        continue
    write(f"models/marts/{domain}/_{domain}__models.yml",
          "version: 2\nmodels:\n" + "".join(
              f"  - name: {n}\n    columns:\n      - name: id\n        data_tests: [unique]\n" for n in names))
# One YAML at marts/ documents finance and sales together.
write("models/marts/_finance_sales__models.yml",
      "version: 2\nmodels:\n" + "".join(f"  - name: {n}\n" for n in mart_by_domain["finance"] + mart_by_domain["sales"]))

# Reports: read marts of one or two domains.
rpts = []
for i in range(n_rpt):
    refs = [rng.choice(mart_by_domain[d]) for d in rng.sample(domains, 2)]
    name = f"rpt_board_{i:02d}"
    model("reports", name, sorted(set(refs)))
    rpts.append(name)
write("models/reports/_reports__models.yml",
      "version: 2\nmodels:\n" + "".join(f"  - name: {r}\n" for r in rpts))
write("models/reports/overview.md", "{% docs overview %}The board's reports.{% enddocs %}\n")

# Singular tests: most test one domain's mart, some two domains'.
for i in range(12):
    ds = rng.sample(domains, 2 if i % 4 == 0 else 1)
    refs = [rng.choice(mart_by_domain[d]) for d in ds]
    froms = " cross join ".join(f"{{{{ ref('{r}') }}}}" for r in refs)
    write(f"data-tests/assert_{'_'.join(ds)}_{i:02d}.sql", f"select * from {froms} where 1 = 0\n")

# Seeds: most read by one source's staging model, one by nobody.
for i, source in enumerate(sources[:5]):
    write(f"seeds/{source}_codes.csv", "code,label\n1,a\n")
reader = stg_by_source["stripe"][0]
write(f"models/staging/stripe/{reader}.sql",
      f"select 1 as id from {{{{ source('stripe', '{reader.split('__')[1]}') }}}} cross join {{{{ ref('stripe_codes') }}}}\n")
write("seeds/unused_codes.csv", "code\n1\n")
for i in range(10):
    write(f"macros/macro_{i:02d}.sql", f"{{% macro macro_{i:02d}() %}}1{{% endmacro %}}\n")
write("snapshots/customers_snapshot.sql",
      "{% snapshot customers_snapshot %}\n{{ config(target_schema='snapshots', unique_key='id', strategy='check', check_cols='all') }}\n"
      "select 1 as id from {{ source('salesforce', 't00') }}\n{% endsnapshot %}\n")
write("analyses/finance_scratch.sql", f"select * from {{{{ ref('{mart_by_domain['finance'][0]}') }}}}\n")
# One own model reads a package model.
first_mart = mart_by_domain["ops"][0]
folder, refs = models[first_mart]
write(f"models/{folder}/{first_mart}.sql",
      "select 1 as id from " + " cross join ".join(f"{{{{ ref('{r}') }}}}" for r in refs)
      + " cross join {{ ref('dbt_project_evaluator', 'eval_00') }}\n")

subprocess.run(["git", "init", "-q", "-b", "main", out], check=True)
subprocess.run(["git", "-C", out, "add", "-A"], check=True)
subprocess.run(["git", "-C", out, "-c", "user.name=bench", "-c", "user.email=bench@example.com",
                "commit", "-q", "-m", "a generated dbt project"], check=True)
print(f"{len(models)} models of the project, 48 of a package, in {project}")
