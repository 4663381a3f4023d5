//! Lines of typical agent output, the same for every memory benchmark
//! (`screen_memory`, `attached_dashboard`'s `memory` part).

/// Lines like an agent's: timestamps, colored levels, paths, compiler
/// warnings, diff lines, blank lines, and now and then a long line that
/// wraps.
pub fn typical_output(lines: usize) -> Vec<u8> {
    let mut out = String::new();
    for i in 0..lines {
        let line = match i % 10 {
            _ if i + 1 == lines => format!("line {i} done"),
            0 => format!(
                "\x1b[2m12:{:02}:{:02}\x1b[0m \x1b[32mINFO\x1b[0m  model.stg_orders_{i} built in 0.{:02}s (rows: {})",
                i / 60 % 60,
                i % 60,
                i % 100,
                i * 7
            ),
            1 => format!(
                "\x1b[33mwarning\x1b[0m: unused variable `amount_{i}` \x1b[34m-->\x1b[0m models/staging/stg_payments.sql:{}:{}",
                i % 400,
                i % 80
            ),
            2 => format!(
                "\x1b[32m+    select id, amount from {{{{ ref('stg_payments') }}}} where id > {i}\x1b[0m"
            ),
            3 => format!(
                "\x1b[31m-    select id, amount / 100 as amount from raw.payments where id > {i}\x1b[0m"
            ),
            4 => String::new(),
            5 => format!(
                "  {i:>5} | {}",
                "with orders as (select * from {{ ref('stg_orders') }}), payments as (select * from {{ ref('stg_payments') }}), \
                 final as (select orders.order_id, sum(payments.amount) as amount from orders left join payments using (order_id) group by 1) select * from final"
            ),
            6 => format!("Running {i} of {lines}: \x1b[1mdbt build --select stg_orders+\x1b[0m"),
            7 => format!("\x1b[1;36m●\x1b[0m Read(models/marts/fct_orders_{i}.sql)"),
            8 => format!("  ⎿  Read {} lines", i % 300),
            _ => format!("{i}: ok"),
        };
        out.push_str(&line);
        out.push_str("\r\n");
    }
    out.into_bytes()
}
