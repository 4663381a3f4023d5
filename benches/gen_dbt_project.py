#!/usr/bin/env python3
"""Writes a dbt-duckdb project of three layers into OUT: three raw seeds
loaded into a fixed `raw` schema and read as sources, then N staging, N
intermediate and N marts models (3N models), each layer reading the one
before, with a not_null test on every mart. Used by the deferral test
(tests/engines/dbt_defer.rs) and benches/dbt_slim.sh.

usage: gen_dbt_project.py OUT [N]   (N models per layer, default 70)
"""
import os
import sys

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 70


def write(path, text):
    full = os.path.join(out, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        f.write(text)


write("dbt_project.yml", """name: gen
version: "1.0.0"
profile: gen
model-paths: ["models"]
seed-paths: ["seeds"]
macro-paths: ["macros"]
seeds:
  gen:
    +schema: raw
""")
# Seeds go to `raw` itself, not `<target schema>_raw`: sources name it.
write("macros/generate_schema_name.sql", """{% macro generate_schema_name(custom_schema_name, node) -%}
  {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
""")
write("seeds/raw_customers.csv", "id,name\n" + "".join(f"{i},customer {i}\n" for i in range(50)))
write("seeds/raw_orders.csv", "id,customer_id,amount\n" + "".join(f"{i},{i % 50},{i * 3 % 97}\n" for i in range(200)))
write("seeds/raw_payments.csv", "id,order_id,paid\n" + "".join(f"{i},{i % 200},{i * 7 % 89}\n" for i in range(300)))
tables = ["raw_customers", "raw_orders", "raw_payments"]
write("models/staging/sources.yml", "version: 2\nsources:\n  - name: raw\n    schema: raw\n    tables:\n"
      + "".join(f"      - name: {t}\n" for t in tables))
for i in range(n):
    t = tables[i % 3]
    write(f"models/staging/stg_{i:03}.sql",
          f"select id, {i} as part from {{{{ source('raw', '{t}') }}}} where id % {n} = {i} or id < 3\n")
    write(f"models/intermediate/int_{i:03}.sql",
          f"select a.id, a.part, b.part as next_part from {{{{ ref('stg_{i:03}') }}}} a\n"
          f"left join {{{{ ref('stg_{(i + 1) % n:03}') }}}} b on a.id = b.id\n")
    write(f"models/marts/mart_{i:03}.sql",
          f"select part, count(*) as rows_seen from {{{{ ref('int_{i:03}') }}}} group by part\n")
write("models/marts/marts.yml", "version: 2\nmodels:\n" + "".join(
    f"  - name: mart_{i:03}\n    columns:\n      - name: part\n        data_tests: [not_null]\n" for i in range(n)))
write(".gitignore", "target/\nlogs/\n*.duckdb\n*.duckdb.wal\n")
