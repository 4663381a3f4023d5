//! Review comments from a shell: `comment` (write, edit, delete),
//! `comments` (list) and `review-send`, through the supervisor (started
//! if none runs), which keeps them and places them on the live diff.

use std::process::ExitCode;

use crate::domain::Command;
use crate::domain::comments::{CommentAt, LineRef, Review};
use crate::domain::short_commit;
use crate::workspace::Workspace;

use super::queue_cmds;

/// What `sliceboard comment` was asked to do.
pub struct CommentArgs<'a> {
    pub at: Option<&'a str>,
    pub delete: Option<u32>,
    pub edit: Option<u32>,
    pub text: &'a str,
}

pub fn comment(ws: &Workspace, slice: &str, args: CommentArgs<'_>) -> anyhow::Result<ExitCode> {
    let slice = ws.slice(slice)?.name.clone();
    let command = if let Some(id) = args.delete {
        Command::DeleteComment { slice, id }
    } else {
        if args.text.trim().is_empty() {
            anyhow::bail!(
                "the comment is empty: write it after `--`, e.g. `sliceboard comment {slice} models/x.sql:12 -- rename the column`"
            );
        }
        match args.edit {
            Some(id) => Command::EditComment {
                slice,
                id,
                text: args.text.to_owned(),
            },
            None => Command::Comment {
                slice,
                at: parse_at(args.at.unwrap_or_default())?,
                text: args.text.to_owned(),
            },
        }
    };
    queue_cmds::run(ws, command)
}

/// `PATH:LINE` or `PATH:FIRST-LAST`, lines of the slice's file as it is.
fn parse_at(raw: &str) -> anyhow::Result<CommentAt> {
    let bad = || {
        anyhow::anyhow!(
            "{raw:?} is not PATH:LINE or PATH:FIRST-LAST (e.g. models/marts/orders.sql:12-14)"
        )
    };
    let (path, lines) = raw.rsplit_once(':').ok_or_else(bad)?;
    let (first, last) = lines.split_once('-').unwrap_or((lines, lines));
    let number = |s: &str| s.trim().parse::<u32>().ok().filter(|n| *n > 0);
    let (Some(first), Some(last)) = (number(first), number(last)) else {
        return Err(bad());
    };
    if path.is_empty() {
        return Err(bad());
    }
    let path = path.trim_start_matches("./").to_owned();
    Ok(CommentAt {
        path,
        first: LineRef::new(first.min(last)),
        last: LineRef::new(first.max(last)),
        saw: Vec::new(),
    })
}

/// `sliceboard comments SLICE`: each comment where it sits now, or
/// outdated; the last look.
pub fn list(ws: &Workspace, slice: &str, json: bool) -> anyhow::Result<ExitCode> {
    let slice = ws.slice(slice)?.name.clone();
    let answer = queue_cmds::ask(
        ws,
        Command::ReviewReport {
            slice: slice.clone(),
        },
    )?;
    let text = match answer {
        Ok(text) => text,
        Err(why) => {
            eprintln!("error: {why}");
            return Ok(ExitCode::FAILURE);
        }
    };
    if json {
        println!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    let review: Review = serde_json::from_str(&text)?;
    if review.comments.is_empty() {
        println!("{slice}: no review comments");
    }
    for comment in &review.comments {
        let outdated = if comment.outdated() {
            " (outdated)"
        } else {
            ""
        };
        println!(
            "#{} {}{outdated}  {}",
            comment.id,
            comment.location(),
            comment.text
        );
    }
    if let Some(looked) = &review.looked {
        println!(
            "last look: {} ({}, {})",
            short_commit(&looked.commit),
            looked.how,
            looked.at.strftime("%Y-%m-%d %H:%M UTC")
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_place_is_a_path_and_one_line_or_a_range() {
        let at = parse_at("models/a.sql:12-14").unwrap();
        assert_eq!(
            (at.path.as_str(), at.first, at.last),
            ("models/a.sql", LineRef::new(12), LineRef::new(14))
        );
        let at = parse_at("./a:b.sql:3").unwrap();
        assert_eq!(
            (at.path.as_str(), at.first, at.last),
            ("a:b.sql", LineRef::new(3), LineRef::new(3))
        );
        for bad in ["a.sql", "a.sql:", ":3", "a.sql:0", "a.sql:x-2"] {
            assert!(parse_at(bad).is_err(), "{bad}");
        }
    }
}
