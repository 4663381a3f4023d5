//! The host's clipboard: what copy mode and the Diff tab yank goes to
//! the terminal the dashboard runs in as OSC 52 (written by sliceboard
//! itself; agents' own OSC 52 stays dropped), wrapped in tmux's
//! passthrough inside tmux; to `~/.local/state/sliceboard/clipboard`
//! (0600), for scripts and terminals without OSC 52; and to the user's
//! `[copy] command` (`wl-copy`, `xclip -selection clipboard`), on stdin.

use std::io::Write as _;
use std::path::PathBuf;

use base64::Engine as _;

/// The OSC 52 sequence that puts `text` on the clipboard.
pub fn osc52(text: &str, in_tmux: bool) -> Vec<u8> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    let osc = format!("\x1b]52;c;{encoded}\x07");
    if in_tmux {
        let mut out = b"\x1bPtmux;".to_vec();
        out.extend_from_slice(osc.replace('\x1b', "\x1b\x1b").as_bytes());
        out.extend_from_slice(b"\x1b\\");
        out
    } else {
        osc.into_bytes()
    }
}

/// The clipboard file: `$XDG_STATE_HOME/sliceboard/clipboard`, else
/// `~/.local/state/sliceboard/clipboard`.
pub fn file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local").join("state"))
        })?;
    Some(base.join("sliceboard").join("clipboard"))
}

/// Puts `text` everywhere it goes; says where, for the status line.
pub fn put(text: &str, command: Option<&str>) -> String {
    let in_tmux = std::env::var_os("TMUX").is_some();
    let mut stdout = std::io::stdout();
    let _ = stdout.write_all(&osc52(text, in_tmux));
    let _ = stdout.flush();
    let mut went = vec![if in_tmux {
        "the terminal (OSC 52 through tmux: needs `set -g allow-passthrough on`)".to_owned()
    } else {
        "the terminal (OSC 52)".to_owned()
    }];
    if let Some(path) = file() {
        let written = path
            .parent()
            .map_or(Ok(()), crate::os::private::create_dir)
            .and_then(|()| crate::os::private::write(&path, text.as_bytes()));
        match written {
            Ok(()) => went.push(path.display().to_string()),
            Err(err) => {
                tracing::warn!(%err, path = %path.display(), "the clipboard file could not be written")
            }
        }
    }
    if let Some(command) = command {
        match run(command, text) {
            Ok(()) => went.push(format!("`{command}`")),
            Err(err) => went.push(format!("not `{command}`: {err}")),
        }
    }
    let n = text.chars().count();
    format!(
        "copied {n} character{} to {}",
        if n == 1 { "" } else { "s" },
        went.join(", ")
    )
}

/// Runs the user's copy command with `text` on its stdin; it may keep
/// running (as `wl-copy` does, serving the selection): nobody waits.
fn run(command: &str, text: &str) -> std::io::Result<()> {
    let mut child = std::process::Command::new("sh")
        .args(["-c", command])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    // Written and waited for off the dashboard's thread: a command that
    // does not read never stops the dashboard.
    let stdin = child.stdin.take();
    let text = text.to_owned();
    std::thread::spawn(move || {
        if let Some(mut stdin) = stdin {
            let _ = stdin.write_all(text.as_bytes());
        }
        let _ = child.wait();
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osc_52_carries_the_text_in_base64_and_passes_through_tmux() {
        assert_eq!(osc52("hi", false), b"\x1b]52;c;aGk=\x07");
        assert_eq!(osc52("hi", true), b"\x1bPtmux;\x1b\x1b]52;c;aGk=\x07\x1b\\");
    }
}
