//! Keys to named actions. The help overlay is generated from the same
//! table, and a user's `~/.config/sliceboard/config.toml` maps keys to
//! actions by name over the defaults, so help, config and code agree.
//!
//! ```toml
//! [keys]
//! "ctrl-k" = "kill"
//! "x" = "none"          # unbind
//! leave = "ctrl-b"      # the key that leaves a focused agent
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::{Deserialize, Serialize};

/// Everything a key can do on the board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Down,
    Up,
    /// The next slice that needs the operator: waiting, then failed, then
    /// finished and unreviewed.
    NextNeedingYou,
    NextTab,
    PrevTab,
    /// Type into the selected agent until the leave key.
    Focus,
    Start,
    PauseResume,
    Kill,
    /// End the agent group an earlier supervisor left running in the
    /// slice (asks first).
    EndLeftRunning,
    Restart,
    /// Record the operator's approval of the slice's branch tip.
    Approve,
    WithdrawApproval,
    /// Merge the merge queue's first ready slice.
    MergeHead,
    /// Merge every ready slice, in queue order.
    MergeAll,
    /// Tell the slice's agent what the merge queue found.
    Feedback,
    /// Remove a merged slice's worktree and branch (asks first).
    Clean,
    /// Pick the selected variant: approve it, retire its siblings (asks
    /// first).
    PickVariant,
    /// Send the planner agent the aggregate result to review.
    Review,
    /// The selected slice's competing variants side by side.
    CompareVariants,
    /// The merge queue view.
    Queue,
    Grid,
    Fullscreen,
    ScrollUp,
    ScrollDown,
    /// The Diff tab's next and previous changed file, and hunk.
    NextFile,
    PrevFile,
    NextHunk,
    PrevHunk,
    Help,
    /// Search the selected terminal's scrollback.
    Search,
    /// A one-line prompt for the marked slices' agents, or the selected
    /// one's, sent as a paste and Enter without attaching.
    QuickPrompt,
    /// Mark or unmark the selected slice for a prompt to several agents.
    Mark,
    /// Mute or unmute the selected slice's calls (bell, notifications).
    MuteCalls,
    /// Raise the selected slice's budget by its size again, resuming an
    /// agent it paused.
    RaiseBudget,
    /// Review the Diff tab's lines: a cursor to comment on them.
    Comment,
    /// The Diff tab: the changes since the last look, or the whole diff.
    DiffSince,
    /// Copy mode on the selected agent's pane.
    CopyMode,
    /// The Diff tab side by side, or unified.
    SideBySide,
    /// The board in the plan's order, or who needs the operator first.
    BoardOrder,
    /// Hold the merge queue (nothing automatic happens), or let it go on.
    HoldQueue,
    /// Show or hide the walkthrough beside the board (the demo's).
    Guide,
    /// Open the Diff tab's file in the operator's editor, at the line shown.
    Edit,
    SearchNext,
    /// Create the slices' missing worktrees (`sliceboard up`).
    CreateWorktrees,
    /// Run the plan's worktree setup in the slice's worktree again.
    Setup,
    /// Leave the dashboard; agents go on in the supervisor.
    Quit,
    /// Stop every agent and the supervisor (asks first).
    StopAll,
}

impl Action {
    pub fn describe(self) -> &'static str {
        match self {
            Action::Down => "next slice",
            Action::Up => "previous slice",
            Action::NextNeedingYou => "next slice that needs you (waiting, failed, finished)",
            Action::NextTab => "next tab",
            Action::PrevTab => "previous tab",
            Action::Focus => "type into the agent (leave with the leave key)",
            Action::Start => "start the agent",
            Action::PauseResume => "pause / resume the agent (whole process group)",
            Action::Kill => "kill the agent (asks first)",
            Action::EndLeftRunning => {
                "end an agent group a previous supervisor left running (asks first)"
            }
            Action::Restart => "restart the agent (resume command if set)",
            Action::Approve => {
                "approve the slice's current commit for the merge queue (asks when something deserves a second look)"
            }
            Action::WithdrawApproval => "withdraw the slice's approval",
            Action::MergeHead => {
                "merge the queue's first ready slice (check, then move the integration branch)"
            }
            Action::MergeAll => "merge every ready slice, in queue order",
            Action::Feedback => {
                "tell the slice's agent about its conflict, failed check or upstream merge"
            }
            Action::Clean => "remove a merged slice's worktree and branch (asks first)",
            Action::CompareVariants => "compare this slice's variants side by side",
            Action::Review => "send the planner the aggregate result to review",
            Action::PickVariant => "pick this variant, retire its siblings (asks first)",
            Action::Queue => "merge queue view (again: back)",
            Action::Grid => "grid of all terminals",
            Action::Fullscreen => {
                "the tab shown full screen: the terminal (a larger peek: keys stay the board's), the diff…"
            }
            Action::ScrollUp => "scroll back (terminal, diff, dbt and logs)",
            Action::ScrollDown => "scroll forward (terminal, diff, dbt and logs)",
            Action::NextFile => "diff: next changed file",
            Action::PrevFile => "diff: previous changed file",
            Action::NextHunk => "diff: next hunk (on to the next file)",
            Action::PrevHunk => "diff: previous hunk",
            Action::Help => "this help",
            Action::Search => "search what the tab shows (enter: find, esc: cancel)",
            Action::SearchNext => "next match of the search",
            Action::QuickPrompt => "tell the agent (or every marked one) a one-line prompt",
            Action::Mark => "mark / unmark the slice (one prompt to several)",
            Action::MuteCalls => "mute / unmute the slice's calls (bell, notifications)",
            Action::RaiseBudget => {
                "raise the slice's budget by its size again (an agent it paused goes on)"
            }
            Action::SideBySide => "diff: side by side at 160 columns or more (again: unified)",
            Action::CopyMode => {
                "copy mode on the agent's pane: vi keys, v/V/ctrl-v select, y copies to the clipboard"
            }
            Action::DiffSince => {
                "diff: only what changed since your last look (a review sent, an approval); again: the whole diff"
            }
            Action::Comment => {
                "review the diff: a cursor on its lines, c comments, s sends the review to the agent"
            }
            Action::BoardOrder => "board order: who needs you first, or the plan's",
            Action::Edit => {
                "open the diff's file in $EDITOR at the line shown (the dashboard waits)"
            }
            Action::HoldQueue => {
                "hold the merge queue (nothing approved, told or merged by itself) / let it go on"
            }
            Action::Guide => {
                "show or hide the walkthrough, each step ticked when done (the demo's)"
            }
            Action::CreateWorktrees => "create missing worktrees (sliceboard up)",
            Action::Setup => "run the worktree's setup again ([worktree] setup: dbt deps…)",
            Action::Quit => "quit: detach; agents keep running in the background",
            Action::StopAll => "stop every agent and the supervisor (asks first)",
        }
    }
}

/// A key as written in the config: `q`, `?`, `ctrl-]`, `alt-x`, `enter`,
/// `tab`, `shift-tab`, `up`, `pgdn`, `f5`, …
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeySpec {
    pub code: KeyCode,
    pub ctrl: bool,
    pub alt: bool,
}

impl KeySpec {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut ctrl = false;
        let mut alt = false;
        let mut rest = raw;
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-").filter(|r| !r.is_empty()) {
                ctrl = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-").filter(|r| !r.is_empty()) {
                alt = true;
                rest = r;
            } else {
                break;
            }
        }
        let code = match rest {
            "enter" => KeyCode::Enter,
            "tab" => KeyCode::Tab,
            "shift-tab" | "backtab" => KeyCode::BackTab,
            "esc" => KeyCode::Esc,
            "space" => KeyCode::Char(' '),
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "pgup" => KeyCode::PageUp,
            "pgdn" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "backspace" => KeyCode::Backspace,
            f if f.starts_with('f') && f.len() > 1 => {
                let n: u8 = f[1..].parse().map_err(|_| format!("unknown key {raw:?}"))?;
                KeyCode::F(n)
            }
            c if c.chars().count() == 1 => KeyCode::Char(c.chars().next().unwrap_or(' ')),
            _ => {
                return Err(format!(
                    "unknown key {raw:?}; write a character, or ctrl-/alt- followed by one, or enter, tab, esc, space, up, down, left, right, pgup, pgdn, home, end, f1…f12"
                ));
            }
        };
        Ok(Self { code, ctrl, alt })
    }

    pub fn of(event: &KeyEvent) -> Self {
        let ctrl = event.modifiers.contains(KeyModifiers::CONTROL);
        let code = match event.code {
            // Terminals send ctrl-\ ctrl-] ctrl-^ ctrl-_ as 0x1c..0x1f, which
            // crossterm reads as ctrl-4..ctrl-7.
            KeyCode::Char(c @ '4'..='7') if ctrl => {
                KeyCode::Char(['\\', ']', '^', '_'][c as usize - '4' as usize])
            }
            other => other,
        };
        Self {
            code,
            ctrl,
            alt: event.modifiers.contains(KeyModifiers::ALT),
        }
    }

    pub fn display(&self) -> String {
        let mut out = String::new();
        if self.ctrl {
            out.push_str("ctrl-");
        }
        if self.alt {
            out.push_str("alt-");
        }
        match self.code {
            KeyCode::Char(' ') => out.push_str("space"),
            KeyCode::Char(c) => out.push(c),
            KeyCode::Enter => out.push_str("enter"),
            KeyCode::Tab => out.push_str("tab"),
            KeyCode::BackTab => out.push_str("shift-tab"),
            KeyCode::Esc => out.push_str("esc"),
            KeyCode::Up => out.push_str("up"),
            KeyCode::Down => out.push_str("down"),
            KeyCode::Left => out.push_str("left"),
            KeyCode::Right => out.push_str("right"),
            KeyCode::PageUp => out.push_str("pgup"),
            KeyCode::PageDown => out.push_str("pgdn"),
            KeyCode::Home => out.push_str("home"),
            KeyCode::End => out.push_str("end"),
            KeyCode::F(n) => out.push_str(&format!("f{n}")),
            other => out.push_str(&format!("{other:?}").to_lowercase()),
        }
        out
    }
}

#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: HashMap<KeySpec, Action>,
    /// Leaves a focused agent; every other key goes to the agent.
    pub leave: KeySpec,
    /// The config's `[copy] command`: what a yank is also given to, on
    /// its stdin (`wl-copy`, `xclip -selection clipboard`).
    pub copy_command: Option<String>,
}

const DEFAULTS: &[(&str, Action)] = &[
    ("j", Action::Down),
    ("down", Action::Down),
    ("k", Action::Up),
    ("up", Action::Up),
    ("w", Action::NextNeedingYou),
    ("tab", Action::NextTab),
    ("l", Action::NextTab),
    ("right", Action::NextTab),
    ("shift-tab", Action::PrevTab),
    ("h", Action::PrevTab),
    ("left", Action::PrevTab),
    ("enter", Action::Focus),
    ("s", Action::Start),
    ("p", Action::PauseResume),
    ("x", Action::Kill),
    ("X", Action::EndLeftRunning),
    ("r", Action::Restart),
    ("a", Action::Approve),
    ("u", Action::WithdrawApproval),
    ("m", Action::MergeHead),
    ("M", Action::MergeAll),
    ("F", Action::Feedback),
    ("C", Action::Clean),
    ("P", Action::PickVariant),
    ("R", Action::Review),
    ("V", Action::CompareVariants),
    ("o", Action::Queue),
    ("g", Action::Grid),
    ("f", Action::Fullscreen),
    ("pgup", Action::ScrollUp),
    ("pgdn", Action::ScrollDown),
    ("]", Action::NextFile),
    ("[", Action::PrevFile),
    ("}", Action::NextHunk),
    ("{", Action::PrevHunk),
    ("?", Action::Help),
    ("/", Action::Search),
    ("n", Action::SearchNext),
    ("t", Action::QuickPrompt),
    ("space", Action::Mark),
    ("z", Action::MuteCalls),
    ("$", Action::RaiseBudget),
    ("O", Action::BoardOrder),
    ("H", Action::HoldQueue),
    ("G", Action::Guide),
    ("e", Action::Edit),
    ("c", Action::Comment),
    ("L", Action::DiffSince),
    ("v", Action::CopyMode),
    ("|", Action::SideBySide),
    ("U", Action::CreateWorktrees),
    ("S", Action::Setup),
    ("q", Action::Quit),
    ("Q", Action::StopAll),
];

/// The user's config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    keys: BTreeMap<String, toml::Spanned<String>>,
    #[serde(default)]
    copy: RawCopy,
    /// `[prices]`: read by the supervisor for its estimates; checked here
    /// so a mistake names its line.
    #[serde(default)]
    #[allow(dead_code)]
    prices: BTreeMap<String, crate::domain::usage::Price>,
}

/// `[copy]`: where a yank goes besides the terminal and the clipboard file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCopy {
    command: Option<String>,
}

impl Default for Keymap {
    fn default() -> Self {
        let bindings = DEFAULTS
            .iter()
            .map(|(key, action)| (KeySpec::parse(key).expect("default keys parse"), *action))
            .collect();
        Self {
            bindings,
            leave: KeySpec {
                code: KeyCode::Char(']'),
                ctrl: true,
                alt: false,
            },
            copy_command: None,
        }
    }
}

impl Keymap {
    pub fn action(&self, event: &KeyEvent) -> Option<Action> {
        self.bindings.get(&KeySpec::of(event)).copied()
    }

    /// The config file: `$XDG_CONFIG_HOME/sliceboard/config.toml`, else
    /// `~/.config/sliceboard/config.toml`.
    pub fn config_path() -> Option<PathBuf> {
        crate::os::config_file()
    }

    /// The defaults with the user's config over them; a missing file is
    /// fine, a bad key or action is an error naming its line.
    pub fn load(path: Option<&Path>) -> Result<Self, String> {
        let mut keymap = Self::default();
        let Some(path) = path else {
            return Ok(keymap);
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(keymap),
            Err(err) => return Err(format!("cannot read {}: {err}", path.display())),
        };
        let raw: RawConfig = toml::from_str(&text)
            .map_err(|err| format!("{}: {}", path.display(), err.message()))?;
        keymap.copy_command = raw.copy.command.filter(|c| !c.trim().is_empty());
        let line_of = |span: std::ops::Range<usize>| text[..span.start].lines().count().max(1);
        for (key, action) in raw.keys {
            let line = line_of(action.span());
            let at = || format!("{}:{line}", path.display());
            if key == "leave" {
                keymap.leave = KeySpec::parse(action.get_ref())
                    .map_err(|e| format!("{}: keys.leave: {e}", at()))?;
                continue;
            }
            let spec = KeySpec::parse(&key).map_err(|e| format!("{}: keys: {e}", at()))?;
            if action.get_ref() == "none" {
                keymap.bindings.remove(&spec);
                continue;
            }
            let parsed: Action = serde_json::from_value(serde_json::Value::String(action.get_ref().clone()))
                .map_err(|_| {
                    format!(
                        "{}: keys.\"{key}\": unknown action {:?}; known actions: {}, or \"none\" to unbind",
                        at(),
                        action.get_ref(),
                        all_actions().join(", ")
                    )
                })?;
            keymap.bindings.insert(spec, parsed);
        }
        Ok(keymap)
    }

    /// The key to show for `action`: its first default key while that
    /// still does it, else the shortest key the user bound to it.
    pub fn key_for(&self, action: Action) -> Option<String> {
        let default = DEFAULTS
            .iter()
            .filter(|(_, a)| *a == action)
            .filter_map(|(key, _)| KeySpec::parse(key).ok())
            .find(|key| self.bindings.get(key) == Some(&action));
        default.map(|key| key.display()).or_else(|| {
            self.bindings
                .iter()
                .filter(|(_, a)| **a == action)
                .map(|(key, _)| key.display())
                .min_by_key(|k| (k.len(), k.clone()))
        })
    }

    /// The key to name in a hint for `action`, as the user bound it.
    pub fn key(&self, action: Action) -> String {
        self.key_for(action).unwrap_or_else(|| "(unbound)".into())
    }

    /// The status line's hints: `key word` for the common actions.
    pub fn hints(&self) -> String {
        // Most needed first: a narrow terminal cuts the line's end.
        const SHOWN: &[(Action, &str)] = &[
            (Action::Help, "help"),
            (Action::Quit, "detach"),
            (Action::Focus, "type"),
            (Action::Start, "start"),
            (Action::PauseResume, "pause"),
            (Action::Kill, "kill"),
            (Action::Restart, "restart"),
            (Action::Approve, "approve"),
            (Action::Queue, "queue"),
            (Action::MergeHead, "merge"),
            (Action::Grid, "grid"),
            (Action::NextTab, "tabs"),
            (Action::StopAll, "stop all"),
        ];
        SHOWN
            .iter()
            .filter_map(|(action, word)| Some(format!("{} {word}", self.key_for(*action)?)))
            .collect::<Vec<_>>()
            .join("  ")
    }

    /// Help lines: each action with every key bound to it.
    pub fn help(&self) -> Vec<(String, &'static str)> {
        let mut by_action: BTreeMap<Action, Vec<String>> = BTreeMap::new();
        for (key, action) in &self.bindings {
            by_action.entry(*action).or_default().push(key.display());
        }
        for keys in by_action.values_mut() {
            keys.sort_by_key(|k| (k.len(), k.clone()));
        }
        let mut lines: Vec<(String, &'static str)> = by_action
            .into_iter()
            .map(|(action, keys)| (keys.join(" "), action.describe()))
            .collect();
        lines.push((
            self.leave.display(),
            "leave a focused agent (every other key goes to it)",
        ));
        lines
    }
}

/// A complete, valid config file: every setting with its default, the
/// keys commented out (as they are by default), for `sliceboard config
/// --example` and docs/config.md.
pub fn example_config() -> String {
    let mut out = String::from(
        "# sliceboard's own settings (not the plan's): ~/.config/sliceboard/config.toml\n\
         # ($XDG_CONFIG_HOME/sliceboard/config.toml). Every line here is the default.\n\n\
         [keys]\n\
         # A key (a character; ctrl-/alt- and one; enter, tab, shift-tab, esc,\n\
         # space, up, down, left, right, pgup, pgdn, home, end, backspace, f1-f12)\n\
         # = an action, or \"none\" to unbind the key. Unnamed keys keep their defaults.\n",
    );
    for (key, action) in DEFAULTS {
        let name = serde_json::to_value(action)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        out.push_str(&format!(
            "# \"{key}\" = \"{name}\"   # {}\n",
            action.describe()
        ));
    }
    out.push_str(
        "# The key that leaves an agent you type into (every other key goes to it).\n\
         # leave = \"ctrl-]\"\n\n\
         [copy]\n\
         # Where a yank (copy mode, or y in review mode) also goes, on its stdin,\n\
         # besides the terminal (OSC 52) and ~/.local/state/sliceboard/clipboard.\n\
         # command = \"wl-copy\"   # or \"xclip -selection clipboard\", \"pbcopy\"\n\n\
         [prices]\n\
         # What tokens cost, in US dollars per million, by model name prefix (the\n\
         # longest match wins), over the list prices sliceboard ships: for the\n\
         # estimates (`~$1.20`) and the plan's budgets. cache_write defaults to the\n\
         # input price, cache_read to a tenth of it.\n\
         # \"claude-sonnet-4\" = { input = 3.0, output = 15.0, cache_write = 3.75, cache_read = 0.30 }\n",
    );
    out
}

fn all_actions() -> Vec<String> {
    DEFAULTS
        .iter()
        .map(|(_, a)| {
            serde_json::to_value(a)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_example_config_is_every_default_and_loads_as_they_are() {
        let example = example_config();
        // Every line uncommented: the defaults, written out.
        let uncommented: String = example
            .lines()
            .map(|l| {
                let setting =
                    l.starts_with("# \"") || l.starts_with("# leave") || l.starts_with("# command");
                if setting { &l[2..] } else { l }
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, uncommented).unwrap();
        let loaded = Keymap::load(Some(&path)).unwrap();
        let defaults = Keymap::default();
        assert_eq!(loaded.bindings, defaults.bindings);
        assert_eq!(loaded.leave, defaults.leave);
        assert_eq!(loaded.copy_command.as_deref(), Some("wl-copy"));
        // docs/config.md shows it as it is.
        let docs = include_str!("../../docs/config.md");
        assert!(
            docs.contains(&example),
            "docs/config.md holds `sliceboard config --example`"
        );
    }

    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn defaults_map_vim_keys_and_arrows() {
        let map = Keymap::default();
        assert_eq!(
            map.action(&key(KeyCode::Char('j'), KeyModifiers::NONE)),
            Some(Action::Down)
        );
        assert_eq!(
            map.action(&key(KeyCode::Up, KeyModifiers::NONE)),
            Some(Action::Up)
        );
        assert_eq!(
            map.action(&key(KeyCode::Char('?'), KeyModifiers::SHIFT)),
            Some(Action::Help)
        );
        assert_eq!(map.leave, KeySpec::parse("ctrl-]").unwrap());
        // What a terminal sends for ctrl-] arrives as ctrl-5.
        assert_eq!(
            KeySpec::of(&key(KeyCode::Char('5'), KeyModifiers::CONTROL)),
            map.leave
        );
    }

    #[test]
    fn a_user_config_overrides_and_unbinds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "[keys]\n\"ctrl-k\" = \"kill\"\nx = \"none\"\nleave = \"ctrl-b\"\n",
        )
        .unwrap();
        let map = Keymap::load(Some(&path)).unwrap();
        assert_eq!(
            map.action(&key(KeyCode::Char('k'), KeyModifiers::CONTROL)),
            Some(Action::Kill)
        );
        assert_eq!(
            map.action(&key(KeyCode::Char('x'), KeyModifiers::NONE)),
            None
        );
        assert_eq!(map.leave, KeySpec::parse("ctrl-b").unwrap());
        assert!(
            map.help()
                .iter()
                .any(|(keys, what)| keys == "ctrl-k" && what.starts_with("kill"))
        );
    }

    #[test]
    fn bad_actions_and_keys_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[keys]\nq = \"quit\"\nz = \"explode\"\n").unwrap();
        let err = Keymap::load(Some(&path)).unwrap_err();
        assert!(
            err.contains("config.toml:3: keys.\"z\": unknown action \"explode\""),
            "{err}"
        );
        assert!(err.contains("pause_resume"), "{err}");
        std::fs::write(&path, "[keys]\n\"hyper-q\" = \"quit\"\n").unwrap();
        let err = Keymap::load(Some(&path)).unwrap_err();
        assert!(
            err.contains("config.toml:2: keys: unknown key \"hyper-q\""),
            "{err}"
        );
        assert!(Keymap::load(Some(&dir.path().join("missing.toml"))).is_ok());
    }
}
