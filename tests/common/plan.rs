//! Plans for the test repository, written as text the way a person would
//! write `sliceboard.toml`: `base = "main"`, an `[agent]`, the tables a
//! test adds, and slices: the shop's own (`staging`, `marts`, `seeds`,
//! over [`super::FILES`]) or a test's.

use std::fmt;

/// A TOML basic string (its escapes are JSON's).
pub fn toml_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

/// A plan being written; its text is its `Display`.
#[derive(Debug, Clone)]
pub struct Plan {
    top: Vec<String>,
    agent: Vec<String>,
    tables: Vec<String>,
    slices: Vec<String>,
}

impl Plan {
    /// `base = "main"` and an agent running `command`.
    pub fn new(command: &str) -> Self {
        Self {
            top: vec!["base = \"main\"".into()],
            agent: vec![format!("command = {}", toml_string(command))],
            tables: Vec::new(),
            slices: Vec::new(),
        }
    }

    /// A top-level line after `base`: `max_running = 1`,
    /// `integration = "integration"`.
    pub fn top(mut self, line: &str) -> Self {
        self.top.push(line.into());
        self
    }

    /// Another line of the `[agent]` table: `resume = …`, `env = …`.
    pub fn agent(mut self, line: &str) -> Self {
        self.agent.push(line.into());
        self
    }

    /// A table after `[agent]`, whole: `"[merge]\ncheck = …"`.
    pub fn table(mut self, text: &str) -> Self {
        self.tables.push(text.trim_end().into());
        self
    }

    /// A slice owning `owns`, with more of its keys as `lines`
    /// (`after = […]`, `prompt = …`, `agent = …`).
    pub fn slice(mut self, name: &str, owns: &[&str], lines: &[&str]) -> Self {
        let owns: Vec<String> = owns.iter().map(|glob| toml_string(glob)).collect();
        let mut text = format!("[[slice]]\nname = \"{name}\"\nowns = [{}]", owns.join(", "));
        for line in lines {
            text.push('\n');
            text.push_str(line);
        }
        self.slices.push(text);
        self
    }

    /// The shop's `staging` slice: `models/staging/**`.
    pub fn staging(self, lines: &[&str]) -> Self {
        self.slice("staging", &["models/staging/**"], lines)
    }

    /// The shop's `marts` slice: `models/marts/**`.
    pub fn marts(self, lines: &[&str]) -> Self {
        self.slice("marts", &["models/marts/**"], lines)
    }

    /// The shop's `seeds` slice: `seeds/**`.
    pub fn seeds(self, lines: &[&str]) -> Self {
        self.slice("seeds", &["seeds/**"], lines)
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\n\n[agent]\n{}\n",
            self.top.join("\n"),
            self.agent.join("\n")
        )?;
        for table in &self.tables {
            write!(f, "\n{table}\n")?;
        }
        for slice in &self.slices {
            write!(f, "\n{slice}\n")?;
        }
        Ok(())
    }
}

/// `after = ["slice", …]`, for [`Plan::slice`].
pub fn after(slices: &[&str]) -> String {
    let names: Vec<String> = slices.iter().map(|s| toml_string(s)).collect();
    format!("after = [{}]", names.join(", "))
}
