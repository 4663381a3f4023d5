//! What an agent's work costs: tokens by model, read from where each
//! agent writes them (Claude Code's transcript, Codex's rollout, aider's
//! cost lines, `sliceboard signal usage`), money as an estimate from a
//! price table (or the agent's own figure), the context's fill, and the
//! budget a slice may spend.
//!
//! Pure: the lines come from the caller; nothing here reads a file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Tokens of one kind of use, as the providers bill them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    /// Input not read from a cache.
    #[serde(default)]
    pub input: u64,
    #[serde(default)]
    pub output: u64,
    /// Input written to the prompt cache.
    #[serde(default)]
    pub cache_write: u64,
    /// Input read from the prompt cache.
    #[serde(default)]
    pub cache_read: u64,
}

impl Tokens {
    pub fn total(&self) -> u64 {
        self.input + self.output + self.cache_write + self.cache_read
    }

    pub fn add(&mut self, other: &Tokens) {
        self.input += other.input;
        self.output += other.output;
        self.cache_write += other.cache_write;
        self.cache_read += other.cache_read;
    }
}

/// How full an agent's context is: the tokens of its last request against
/// its model's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextFill {
    pub used: u64,
    pub window: u64,
}

impl ContextFill {
    /// From 0 to 100 (more when a window was guessed too small).
    pub fn percent(&self) -> u64 {
        (self.used * 100).checked_div(self.window).unwrap_or(0)
    }

    /// Near the limit: a session this full compacts soon and loses detail.
    pub fn near_limit(&self) -> bool {
        self.percent() >= 80
    }
}

/// What a slice's agents used, summed over their runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens by model (`""` when the agent does not say which).
    #[serde(default)]
    pub by_model: BTreeMap<String, Tokens>,
    /// Money the agent reported itself (aider's session cost, `signal
    /// usage --cost`), in US dollars: used as it is, never estimated.
    #[serde(default)]
    pub reported_usd: Option<f64>,
    #[serde(default)]
    pub context: Option<ContextFill>,
    /// Times the agent compacted its context.
    #[serde(default)]
    pub compactions: u32,
}

impl Usage {
    pub fn tokens(&self) -> Tokens {
        let mut total = Tokens::default();
        for tokens in self.by_model.values() {
            total.add(tokens);
        }
        total
    }

    pub fn is_empty(&self) -> bool {
        self.tokens().total() == 0 && self.reported_usd.is_none()
    }

    /// Adds `other` (another run, another file): tokens and reported money
    /// sum, the context is the newest known.
    pub fn add(&mut self, other: &Usage) {
        for (model, tokens) in &other.by_model {
            self.by_model.entry(model.clone()).or_default().add(tokens);
        }
        if let Some(usd) = other.reported_usd {
            *self.reported_usd.get_or_insert(0.0) += usd;
        }
        if other.context.is_some() {
            self.context = other.context;
        }
        self.compactions += other.compactions;
    }
}

/// Money, and whether it is the agent's own figure or an estimate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    pub usd: f64,
    /// From the price table, not from the agent: shown as `~$1.20`.
    pub estimated: bool,
}

impl Cost {
    /// `~$1.20` for an estimate, `$1.20` for the agent's own figure.
    pub fn label(&self) -> String {
        let tilde = if self.estimated { "~" } else { "" };
        if self.usd < 10.0 {
            format!("{tilde}${:.2}", self.usd)
        } else {
            format!("{tilde}${:.0}", self.usd)
        }
    }
}

/// A slice's usage as the board, `status` and `compare` show it: what its
/// agents used, what that costs, and its budget.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SliceUsage {
    pub usage: Usage,
    /// `None` when a model has no known price: "usage unknown" in money.
    #[serde(default)]
    pub cost: Option<Cost>,
    /// The budget in force (raised ones included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
    /// How much of it is spent, 1.0 being all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spent: Option<f64>,
    /// Its agent is paused because the budget is spent, until raised.
    #[serde(default)]
    pub stopped: bool,
}

impl SliceUsage {
    /// What the board's row shows: `~$1.20`, or tokens when no price is
    /// known (`45k tok`); empty before any use.
    pub fn short(&self) -> String {
        if self.usage.is_empty() {
            return String::new();
        }
        match self.cost {
            Some(cost) => cost.label(),
            None => format!("{} tok", count(self.usage.tokens().total())),
        }
    }
}

/// The repository's total over its slices: tokens, and money when every
/// slice's is known (`partial` otherwise: a sum of what is).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageTotal {
    pub tokens: Tokens,
    pub usd: f64,
    /// Some money is the price table's estimate.
    pub estimated: bool,
    /// Some slice's money is unknown: `usd` sums the others.
    pub partial: bool,
}

impl UsageTotal {
    pub fn of<'a>(slices: impl Iterator<Item = &'a SliceUsage>) -> UsageTotal {
        let mut total = UsageTotal::default();
        for slice in slices {
            total.tokens.add(&slice.usage.tokens());
            match slice.cost {
                Some(cost) => {
                    total.usd += cost.usd;
                    total.estimated |= cost.estimated;
                }
                None if !slice.usage.is_empty() => total.partial = true,
                None => {}
            }
        }
        total
    }

    /// `~$3.40`, `≥ ~$3.40` when some slice's money is unknown; empty
    /// before any use.
    pub fn label(&self) -> String {
        if self.tokens.total() == 0 && self.usd == 0.0 {
            return String::new();
        }
        let cost = Cost {
            usd: self.usd,
            estimated: self.estimated,
        }
        .label();
        if self.partial {
            format!("≥ {cost}")
        } else {
            cost
        }
    }
}

/// One model's prices, US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Defaults to the input price.
    #[serde(default)]
    pub cache_write: Option<f64>,
    /// Defaults to a tenth of the input price.
    #[serde(default)]
    pub cache_read: Option<f64>,
}

impl Price {
    const fn of(input: f64, output: f64, cache_write: f64, cache_read: f64) -> Price {
        Price {
            input,
            output,
            cache_write: Some(cache_write),
            cache_read: Some(cache_read),
        }
    }

    fn cost(&self, tokens: &Tokens) -> f64 {
        let per = |n: u64, price: f64| n as f64 * price / 1_000_000.0;
        per(tokens.input, self.input)
            + per(tokens.output, self.output)
            + per(tokens.cache_write, self.cache_write.unwrap_or(self.input))
            + per(
                tokens.cache_read,
                self.cache_read.unwrap_or(self.input / 10.0),
            )
    }
}

/// Public list prices (US dollars per million tokens) as of December 2026,
/// by model name prefix; the longest prefix that matches wins. The user's
/// `[prices]` (their config file) go over these.
const PRICES: &[(&str, Price)] = &[
    ("claude-opus-4-5", Price::of(5.0, 25.0, 6.25, 0.50)),
    ("claude-opus-4-6", Price::of(5.0, 25.0, 6.25, 0.50)),
    ("claude-opus-4", Price::of(15.0, 75.0, 18.75, 1.50)),
    ("claude-sonnet-4", Price::of(3.0, 15.0, 3.75, 0.30)),
    ("claude-3-7-sonnet", Price::of(3.0, 15.0, 3.75, 0.30)),
    ("claude-haiku-4", Price::of(1.0, 5.0, 1.25, 0.10)),
    ("claude-3-5-haiku", Price::of(0.80, 4.0, 1.0, 0.08)),
    ("gpt-5-mini", Price::of(0.25, 2.0, 0.25, 0.025)),
    ("gpt-5-nano", Price::of(0.05, 0.40, 0.05, 0.005)),
    ("gpt-5", Price::of(1.25, 10.0, 1.25, 0.125)),
    ("gpt-4.1-mini", Price::of(0.40, 1.60, 0.40, 0.10)),
    ("gpt-4.1", Price::of(2.0, 8.0, 2.0, 0.50)),
    ("o4-mini", Price::of(1.10, 4.40, 1.10, 0.275)),
    ("o3", Price::of(2.0, 8.0, 2.0, 0.50)),
];

/// The price table: the shipped prices with the user's over them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prices {
    overrides: BTreeMap<String, Price>,
}

impl Prices {
    /// The shipped prices with `overrides` (model name prefix → price)
    /// over them.
    pub fn new(overrides: BTreeMap<String, Price>) -> Self {
        Prices { overrides }
    }

    /// The price of `model`: the longest matching prefix, the user's first.
    pub fn price(&self, model: &str) -> Option<Price> {
        let model = model.to_ascii_lowercase();
        let longest = |prices: &mut dyn Iterator<Item = (&str, Price)>| {
            prices
                .filter(|(prefix, _)| model.starts_with(&prefix.to_ascii_lowercase()))
                .max_by_key(|(prefix, _)| prefix.len())
                .map(|(_, price)| price)
        };
        longest(&mut self.overrides.iter().map(|(k, p)| (k.as_str(), *p)))
            .or_else(|| longest(&mut PRICES.iter().copied()))
    }

    /// What `usage` costs: the agent's own figure when it gave one, else an
    /// estimate from the table; `None` when a model with tokens has no
    /// price (never a wrong number).
    pub fn cost(&self, usage: &Usage) -> Option<Cost> {
        if let Some(usd) = usage.reported_usd {
            return Some(Cost {
                usd,
                estimated: false,
            });
        }
        let mut usd = 0.0;
        for (model, tokens) in &usage.by_model {
            if tokens.total() == 0 {
                continue;
            }
            usd += self.price(model)?.cost(tokens);
        }
        Some(Cost {
            usd,
            estimated: true,
        })
    }
}

/// The context window of a model, where the transcript does not say it.
pub fn context_window(model: &str) -> u64 {
    if model.contains("[1m]") {
        1_000_000
    } else if model.starts_with("claude") {
        200_000
    } else if model.starts_with("gpt-5") {
        272_000
    } else {
        128_000
    }
}

/// What a slice may spend (`budget` in `[agent]` or a slice): money (as
/// estimated), tokens, or both; the first reached counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    #[serde(default)]
    pub usd: Option<f64>,
    #[serde(default)]
    pub tokens: Option<u64>,
}

impl Budget {
    pub fn is_set(&self) -> bool {
        self.usd.is_some() || self.tokens.is_some()
    }

    /// The budget raised by itself `times` times (the operator's key).
    pub fn raised(&self, times: u32) -> Budget {
        let factor = f64::from(times + 1);
        Budget {
            usd: self.usd.map(|usd| usd * factor),
            tokens: self.tokens.map(|t| t * u64::from(times + 1)),
        }
    }

    /// How much of it is spent, 1.0 being all of it; `None` without a
    /// budget, or when the money is unknown and only money is budgeted.
    pub fn spent(&self, usage: &Usage, cost: Option<Cost>) -> Option<f64> {
        let by_money = self
            .usd
            .zip(cost)
            .map(|(budget, cost)| cost.usd / budget.max(f64::MIN_POSITIVE));
        let by_tokens = self
            .tokens
            .map(|budget| usage.tokens().total() as f64 / budget.max(1) as f64);
        match (by_money, by_tokens) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// `$5.00`, `2M tokens`, `$5.00 or 2M tokens`.
    pub fn label(&self) -> String {
        let money = self.usd.map(|usd| format!("${usd:.2}"));
        let tokens = self.tokens.map(|t| format!("{} tokens", count(t)));
        match (money, tokens) {
            (Some(m), Some(t)) => format!("{m} or {t}"),
            (m, t) => m.or(t).unwrap_or_default(),
        }
    }
}

/// A token count as people read it: `950`, `12.3k`, `1.2M`.
pub fn count(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..10_000 => format!("{:.1}k", n as f64 / 1_000.0),
        10_000..1_000_000 => format!("{}k", n / 1_000),
        _ => format!("{:.1}M", n as f64 / 1_000_000.0),
    }
}

/// One line of a Claude Code transcript, as far as usage goes.
#[derive(Debug, Clone, PartialEq)]
pub enum ClaudeLine {
    /// An assistant message's usage. A message written as several lines
    /// (one per content block) repeats it: count each `id` once.
    Assistant {
        id: String,
        model: String,
        tokens: Tokens,
        /// The request's whole input: its context.
        context: u64,
    },
    /// The session compacted its context.
    Compacted,
}

/// Reads one transcript line; `None` for lines that carry no usage.
pub fn claude_line(line: &str) -> Option<ClaudeLine> {
    if !line.contains("\"usage\"") && !line.contains("compact_boundary") {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    if value["type"] == "system" && value["subtype"] == "compact_boundary" {
        return Some(ClaudeLine::Compacted);
    }
    if value["type"] != "assistant" {
        return None;
    }
    let message = &value["message"];
    let usage = &message["usage"];
    let n = |key: &str| usage[key].as_u64().unwrap_or(0);
    let tokens = Tokens {
        input: n("input_tokens"),
        output: n("output_tokens"),
        cache_write: n("cache_creation_input_tokens"),
        cache_read: n("cache_read_input_tokens"),
    };
    let id = message["id"]
        .as_str()
        .or_else(|| value["requestId"].as_str())
        .or_else(|| value["uuid"].as_str())?
        .to_owned();
    let model = message["model"].as_str().unwrap_or_default().to_owned();
    // Claude Code's own notes ("<synthetic>") cost nothing.
    if model == "<synthetic>" {
        return None;
    }
    Some(ClaudeLine::Assistant {
        id,
        model,
        context: tokens.input + tokens.cache_write + tokens.cache_read,
        tokens,
    })
}

/// One line of a Codex rollout (`~/.codex/sessions/…/rollout-*.jsonl`), as
/// far as usage goes.
#[derive(Debug, Clone, PartialEq)]
pub enum CodexLine {
    /// The session's first line: where it runs.
    Meta {
        cwd: String,
    },
    /// The model of the turns that follow.
    Model(String),
    /// The session's usage so far (cumulative), and its context.
    Total {
        tokens: Tokens,
        context: Option<ContextFill>,
    },
    Compacted,
}

pub fn codex_line(line: &str) -> Option<CodexLine> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let payload = &value["payload"];
    match value["type"].as_str()? {
        "session_meta" => Some(CodexLine::Meta {
            cwd: payload["cwd"].as_str()?.to_owned(),
        }),
        "turn_context" => Some(CodexLine::Model(payload["model"].as_str()?.to_owned())),
        "compacted" => Some(CodexLine::Compacted),
        "event_msg" if payload["type"] == "token_count" => {
            let info = &payload["info"];
            let total = &info["total_token_usage"];
            if !total.is_object() {
                return None;
            }
            let n = |v: &serde_json::Value, key: &str| v[key].as_u64().unwrap_or(0);
            let cached = n(total, "cached_input_tokens");
            let tokens = Tokens {
                input: n(total, "input_tokens").saturating_sub(cached),
                output: n(total, "output_tokens"),
                cache_write: 0,
                cache_read: cached,
            };
            let last = &info["last_token_usage"];
            let context = info["model_context_window"]
                .as_u64()
                .filter(|_| last.is_object())
                .map(|window| ContextFill {
                    used: n(last, "input_tokens"),
                    window,
                });
            Some(CodexLine::Total { tokens, context })
        }
        _ => None,
    }
}

/// aider's line after each reply: `Tokens: 2.5k sent, 1.1k cache write,
/// 215 received. Cost: $0.0096 message, $0.0312 session.`
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AiderLine {
    /// The reply's tokens.
    pub tokens: Tokens,
    /// The session's money so far, as aider reports it.
    pub session_usd: Option<f64>,
}

pub fn aider_line(line: &str) -> Option<AiderLine> {
    let rest = &line[line.find("Tokens:")? + "Tokens:".len()..];
    let (tokens_part, cost_part) = match rest.split_once("Cost:") {
        Some((t, c)) => (t, Some(c)),
        None => (rest, None),
    };
    let mut tokens = Tokens::default();
    let mut any = false;
    for piece in tokens_part.split(',') {
        let piece = piece.trim().trim_end_matches('.');
        let Some((number, what)) = piece.split_once(' ') else {
            continue;
        };
        let Some(n) = amount(number) else {
            continue;
        };
        any = true;
        match what.trim() {
            "sent" => tokens.input += n,
            "received" => tokens.output += n,
            "cache write" => tokens.cache_write += n,
            "cache hit" => tokens.cache_read += n,
            _ => any = false,
        }
    }
    if !any {
        return None;
    }
    // aider counts cached tokens inside "sent".
    tokens.input = tokens
        .input
        .saturating_sub(tokens.cache_write + tokens.cache_read);
    let session_usd = cost_part.and_then(|c| {
        let session = c.split(',').find(|p| p.contains("session"))?;
        session
            .trim()
            .trim_start_matches('$')
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    });
    Some(AiderLine {
        tokens,
        session_usd,
    })
}

/// `2.5k`, `1.2M`, `215` as a count.
fn amount(text: &str) -> Option<u64> {
    let (number, factor) = match text.chars().last()? {
        'k' | 'K' => (&text[..text.len() - 1], 1_000.0),
        'm' | 'M' => (&text[..text.len() - 1], 1_000_000.0),
        _ => (text, 1.0),
    };
    let value: f64 = number.replace(',', "").parse().ok()?;
    Some((value * factor).round() as u64)
}

/// Claude Code's folder for the sessions run in `cwd` (its canonical path)
/// under its config folder's `projects/`: every character but ASCII
/// letters and digits made `-`, a longer name cut at 200 and told apart
/// by a hash of the path, as Claude Code names it.
pub fn claude_project_folder(cwd: &str) -> String {
    const MAX: usize = 200;
    let name: String = cwd
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    if name.chars().count() <= MAX {
        return name;
    }
    // Java's string hash over UTF-16 units, as JavaScript computes it.
    let mut hash: i32 = 0;
    for unit in cwd.encode_utf16() {
        hash = hash
            .wrapping_shl(5)
            .wrapping_sub(hash)
            .wrapping_add(i32::from(unit));
    }
    let cut: String = name.chars().take(MAX).collect();
    format!("{cut}-{}", radix36(u64::from(hash.unsigned_abs())))
}

fn radix36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    if n == 0 {
        return "0".into();
    }
    let mut out = Vec::new();
    while n > 0 {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claude_transcript_line_gives_its_message_usage_once_per_id() {
        let line = r#"{"type":"assistant","requestId":"req_1","message":{"id":"msg_1","model":"claude-sonnet-4-5-20250929","usage":{"input_tokens":12,"cache_creation_input_tokens":3000,"cache_read_input_tokens":20000,"output_tokens":450}}}"#;
        assert_eq!(
            claude_line(line),
            Some(ClaudeLine::Assistant {
                id: "msg_1".into(),
                model: "claude-sonnet-4-5-20250929".into(),
                tokens: Tokens {
                    input: 12,
                    output: 450,
                    cache_write: 3000,
                    cache_read: 20000
                },
                context: 23012,
            })
        );
        assert_eq!(
            claude_line(
                r#"{"type":"system","subtype":"compact_boundary","content":"Conversation compacted"}"#
            ),
            Some(ClaudeLine::Compacted)
        );
        assert_eq!(
            claude_line(r#"{"type":"user","message":{"role":"user","content":"hi"}}"#),
            None
        );
        assert_eq!(claude_line("not json {\"usage\""), None);
    }

    #[test]
    fn a_codex_rollout_gives_its_cumulative_usage_and_context() {
        let total = r#"{"timestamp":"2026-12-07T06:00:00Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":5000,"cached_input_tokens":3000,"output_tokens":700,"reasoning_output_tokens":300,"total_tokens":5700},"last_token_usage":{"input_tokens":4000,"cached_input_tokens":3000,"output_tokens":200,"reasoning_output_tokens":100,"total_tokens":4200},"model_context_window":272000}}}"#;
        assert_eq!(
            codex_line(total),
            Some(CodexLine::Total {
                tokens: Tokens {
                    input: 2000,
                    output: 700,
                    cache_write: 0,
                    cache_read: 3000
                },
                context: Some(ContextFill {
                    used: 4000,
                    window: 272000
                }),
            })
        );
        assert_eq!(
            codex_line(
                r#"{"timestamp":"t","type":"session_meta","payload":{"id":"x","cwd":"/w/a","cli_version":"0.58.0"}}"#
            ),
            Some(CodexLine::Meta { cwd: "/w/a".into() })
        );
        assert_eq!(
            codex_line(
                r#"{"timestamp":"t","type":"turn_context","payload":{"model":"gpt-5-codex","cwd":"/w/a"}}"#
            ),
            Some(CodexLine::Model("gpt-5-codex".into()))
        );
        // A token count before any usage is known.
        assert_eq!(
            codex_line(
                r#"{"timestamp":"t","type":"event_msg","payload":{"type":"token_count","info":null}}"#
            ),
            None
        );
    }

    #[test]
    fn an_aider_line_gives_the_replys_tokens_and_the_sessions_money() {
        assert_eq!(
            aider_line("Tokens: 2.5k sent, 215 received. Cost: $0.0096 message, $0.0312 session."),
            Some(AiderLine {
                tokens: Tokens {
                    input: 2500,
                    output: 215,
                    ..Tokens::default()
                },
                session_usd: Some(0.0312),
            })
        );
        let cached = aider_line(
            "Tokens: 9.6k sent, 1.1k cache write, 8.0k cache hit, 145 received. Cost: $0.01 message, $0.05 session.",
        )
        .unwrap();
        assert_eq!(
            cached.tokens,
            Tokens {
                input: 500,
                output: 145,
                cache_write: 1100,
                cache_read: 8000
            }
        );
        assert_eq!(aider_line("Tokens are cheap"), None);
    }

    #[test]
    fn the_price_table_estimates_and_a_users_price_goes_over_it() {
        let mut usage = Usage::default();
        usage.by_model.insert(
            "claude-sonnet-4-5-20250929".into(),
            Tokens {
                input: 1_000_000,
                output: 100_000,
                cache_write: 0,
                cache_read: 2_000_000,
            },
        );
        // 3.00 + 1.50 + 0.60
        let cost = Prices::default().cost(&usage).unwrap();
        assert!((cost.usd - 5.10).abs() < 1e-9, "{cost:?}");
        assert!(cost.estimated);
        assert_eq!(cost.label(), "~$5.10");
        let mine = Prices::new(BTreeMap::from([(
            "claude-sonnet".to_owned(),
            Price {
                input: 1.0,
                output: 5.0,
                cache_write: None,
                cache_read: Some(0.0),
            },
        )]));
        assert!((mine.cost(&usage).unwrap().usd - 1.5).abs() < 1e-9);
        // A model with no price: no number rather than a wrong one.
        usage.by_model.insert(
            "mystery-1".into(),
            Tokens {
                input: 5,
                ..Tokens::default()
            },
        );
        assert_eq!(Prices::default().cost(&usage), None);
        // The agent's own figure wins, and is no estimate.
        usage.reported_usd = Some(0.42);
        assert_eq!(Prices::default().cost(&usage).unwrap().label(), "$0.42");
    }

    #[test]
    fn a_budget_is_spent_by_money_or_tokens_and_raised_by_itself() {
        let mut usage = Usage::default();
        usage.by_model.insert(
            "gpt-5".into(),
            Tokens {
                input: 1_500_000,
                ..Tokens::default()
            },
        );
        let cost = Prices::default().cost(&usage);
        let budget = Budget {
            usd: Some(2.5),
            tokens: None,
        };
        // 1.5M × $1.25 = $1.875 of $2.50.
        assert!((budget.spent(&usage, cost).unwrap() - 0.75).abs() < 1e-9);
        let both = Budget {
            usd: Some(2.5),
            tokens: Some(1_000_000),
        };
        assert!((both.spent(&usage, cost).unwrap() - 1.5).abs() < 1e-9);
        assert_eq!(both.raised(1).label(), "$5.00 or 2.0M tokens");
        assert_eq!(Budget::default().spent(&usage, cost), None);
    }

    #[test]
    fn claude_names_its_project_folder_after_the_path() {
        assert_eq!(
            claude_project_folder("/tmp/rf/repo.slices/a_b"),
            "-tmp-rf-repo-slices-a-b"
        );
        let long = format!("/{}", "x".repeat(250));
        let name = claude_project_folder(&long);
        assert!(name.starts_with(&format!("-{}", "x".repeat(199))), "{name}");
        assert_eq!(name.len(), 200 + 1 + radix36(name_hash(&long)).len());
    }

    fn name_hash(text: &str) -> u64 {
        let mut hash: i32 = 0;
        for unit in text.encode_utf16() {
            hash = hash
                .wrapping_shl(5)
                .wrapping_sub(hash)
                .wrapping_add(i32::from(unit));
        }
        u64::from(hash.unsigned_abs())
    }
}
