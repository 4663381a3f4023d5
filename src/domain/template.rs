//! The small `{placeholder}` language of the plan's name templates.
//!
//! Branch names, worktree paths and dbt targets are written in the plan as
//! templates such as `slice/{slice}` or `dev_{slice_ident}`. This module
//! checks a template once (unknown or unclosed placeholders) and expands it
//! for one slice. It knows nothing about where templates come from.

use super::slice::SliceName;

/// The placeholders a name template may use.
pub const PLACEHOLDERS: [&str; 3] = ["slice", "slice_ident", "repo"];

/// Values for one expansion.
#[derive(Debug, Clone, Copy)]
pub struct TemplateVars<'a> {
    pub slice: &'a SliceName,
    /// The repository's folder name.
    pub repo: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateProblem {
    #[error(
        "uses unknown placeholder {{{0}}}; known placeholders are {{slice}}, {{slice_ident}} and {{repo}}"
    )]
    Unknown(String),
    #[error("has a '{{' without a closing '}}'")]
    Unclosed,
    #[error("does not use {{slice}} or {{slice_ident}}, so every slice would get the same value")]
    NotPerSlice,
    #[error(
        "uses unknown placeholder {{{0}}}; an agent command knows {{prompt}}, {{prompt_file}}, {{brief}}, {{slice}}, {{slice_ident}} and {{repo}} (the shell's own `${{NAME}}` is left to the shell)"
    )]
    UnknownInCommand(String),
}

/// `text` as one word for a POSIX shell (`''` for one it cannot quote:
/// a NUL byte).
pub fn shell_quote(text: &str) -> String {
    shlex::try_quote(text).map_or_else(|_| "''".to_owned(), |q| q.into_owned())
}

/// The port names of every `{port.name}` in `text`.
pub fn port_names(text: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("{port.") {
        let after = &rest[at + "{port.".len()..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            names.push(name);
        }
        rest = &after[end..];
    }
    names
}

/// `text` with each `{port.name}` of `ports` replaced by its number.
pub fn fill_ports(text: &str, ports: &std::collections::BTreeMap<String, u16>) -> String {
    if !text.contains("{port.") {
        return text.to_owned();
    }
    ports.iter().fold(text.to_owned(), |text, (name, port)| {
        text.replace(&format!("{{port.{name}}}"), &port.to_string())
    })
}

/// The placeholders an agent command may use besides [`PLACEHOLDERS`].
pub const COMMAND_PLACEHOLDERS: [&str; 3] = ["prompt", "prompt_file", "brief"];

/// A `{name}` in a shell command: `name` made of lowercase letters, digits
/// and `_`, not after a `$` (`${HOME}` is the shell's); anything else
/// (`{a,b}`, `{ }`) is the command's own text.
fn command_pieces(command: &str) -> Vec<Result<&str, &str>> {
    let mut out = Vec::new();
    let mut rest = command;
    let mut text_start = 0;
    let mut at = 0;
    let bytes = command.as_bytes();
    while let Some(open) = rest.find('{') {
        let open = at + open;
        let close = command[open..].find('}').map(|c| open + c);
        let name = close.map(|c| &command[open + 1..c]);
        let shell = open > 0 && bytes[open - 1] == b'$';
        match (name, close) {
            (Some(name), Some(close))
                if !shell
                    && !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') =>
            {
                out.push(Ok(&command[text_start..open]));
                out.push(Err(name));
                text_start = close + 1;
                at = close + 1;
            }
            _ => at = open + 1,
        }
        rest = &command[at..];
    }
    out.push(Ok(&command[text_start..]));
    out
}

/// The `{name}`s of an agent command that are no placeholder it knows
/// (see [`expand_command`], which leaves them as they are).
pub fn unknown_in_command(command: &str) -> Vec<TemplateProblem> {
    command_pieces(command)
        .into_iter()
        .filter_map(|piece| piece.err())
        .filter(|name| !PLACEHOLDERS.contains(name) && !COMMAND_PLACEHOLDERS.contains(name))
        .map(|name| TemplateProblem::UnknownInCommand(name.to_owned()))
        .collect()
}

/// Expands an agent command in one pass: the name placeholders from
/// `vars`, the others from `values` (already quoted for the shell), so
/// nothing a value holds is expanded again.
pub fn expand_command(command: &str, vars: TemplateVars<'_>, values: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(command.len() + 64);
    for piece in command_pieces(command) {
        match piece {
            Ok(text) => out.push_str(text),
            Err("slice") => out.push_str(vars.slice.as_str()),
            Err("slice_ident") => out.push_str(&identifier(vars.slice.as_str())),
            // A folder's name may hold blanks or quotes: quoted as needed.
            Err("repo") => out.push_str(&shell_quote(vars.repo)),
            Err(name) => match values.iter().find(|(n, _)| *n == name) {
                Some((_, value)) => out.push_str(value),
                None => {
                    out.push('{');
                    out.push_str(name);
                    out.push('}');
                }
            },
        }
    }
    out
}

/// Checks a template. `per_slice` demands that it depends on the slice name.
pub fn check(template: &str, per_slice: bool) -> Result<(), TemplateProblem> {
    let mut names = Vec::new();
    for piece in pieces(template) {
        match piece? {
            Piece::Text(_) => {}
            Piece::Placeholder(name) if PLACEHOLDERS.contains(&name) => names.push(name),
            Piece::Placeholder(name) => return Err(TemplateProblem::Unknown(name.to_owned())),
        }
    }
    if per_slice && !names.iter().any(|n| n.starts_with("slice")) {
        return Err(TemplateProblem::NotPerSlice);
    }
    Ok(())
}

/// Expands a template that passed [`check`]; unknown placeholders are kept
/// verbatim rather than guessed at.
pub fn expand(template: &str, vars: TemplateVars<'_>) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    for piece in pieces(template) {
        match piece {
            Ok(Piece::Text(text)) => out.push_str(text),
            Ok(Piece::Placeholder("slice")) => out.push_str(vars.slice.as_str()),
            Ok(Piece::Placeholder("slice_ident")) => out.push_str(&identifier(vars.slice.as_str())),
            Ok(Piece::Placeholder("repo")) => out.push_str(vars.repo),
            Ok(Piece::Placeholder(other)) => {
                out.push('{');
                out.push_str(other);
                out.push('}');
            }
            Err(_) => break,
        }
    }
    out
}

/// A slice name made safe as a SQL identifier: anything but ASCII letters and
/// digits becomes `_`, lowercased (`finance-v2` -> `finance_v2`).
pub fn identifier(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

enum Piece<'a> {
    Text(&'a str),
    Placeholder(&'a str),
}

fn pieces(template: &str) -> impl Iterator<Item = Result<Piece<'_>, TemplateProblem>> {
    let mut rest = template;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.find('{') {
            Some(0) => match rest.find('}') {
                Some(end) => {
                    let name = &rest[1..end];
                    rest = &rest[end + 1..];
                    Some(Ok(Piece::Placeholder(name)))
                }
                None => {
                    rest = "";
                    Some(Err(TemplateProblem::Unclosed))
                }
            },
            Some(start) => {
                let text = &rest[..start];
                rest = &rest[start..];
                Some(Ok(Piece::Text(text)))
            }
            None => {
                let text = rest;
                rest = "";
                Some(Ok(Piece::Text(text)))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_found_and_filled_by_name() {
        let text = "serve --port {port.web} --db {port.db} {port.} {port.Web} ${port}";
        assert_eq!(port_names(text), ["web", "db"]);
        let ports = [("web".to_owned(), 20001), ("db".to_owned(), 20002)].into();
        assert_eq!(
            fill_ports(text, &ports),
            "serve --port 20001 --db 20002 {port.} {port.Web} ${port}"
        );
    }

    #[test]
    fn agent_commands_expand_names_and_values_once_and_leave_the_shell_its_braces() {
        let name = SliceName::parse("finance-v2").unwrap();
        let command = "bash agents/{slice}.sh {prompt} ${HOME} {a,b} { x; } {slice_ident}";
        assert_eq!(unknown_in_command(command), Vec::new());
        assert_eq!(
            expand_command(command, vars(&name), &[("prompt", "'say {slice}'".into())]),
            "bash agents/finance-v2.sh 'say {slice}' ${HOME} {a,b} { x; } finance_v2"
        );
        assert_eq!(
            unknown_in_command("awk '{print}' {slcie}"),
            [
                TemplateProblem::UnknownInCommand("print".into()),
                TemplateProblem::UnknownInCommand("slcie".into())
            ]
        );
    }

    fn vars(slice: &SliceName) -> TemplateVars<'_> {
        TemplateVars {
            slice,
            repo: "shop",
        }
    }

    #[test]
    fn expands_every_placeholder() {
        let name = SliceName::parse("Finance-v2").unwrap();
        assert_eq!(
            expand("../{repo}.slices/{slice}", vars(&name)),
            "../shop.slices/Finance-v2"
        );
        assert_eq!(expand("dev_{slice_ident}", vars(&name)), "dev_finance_v2");
    }

    #[test]
    fn check_names_the_problem() {
        assert_eq!(check("slice/{slice}", true), Ok(()));
        assert_eq!(
            check("slice/{name}", true),
            Err(TemplateProblem::Unknown("name".into()))
        );
        assert_eq!(check("slice/{slice", true), Err(TemplateProblem::Unclosed));
        assert_eq!(check("dev", true), Err(TemplateProblem::NotPerSlice));
        assert_eq!(check("dev", false), Ok(()));
    }
}
