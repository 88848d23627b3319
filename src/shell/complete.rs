//! Tab completion: dot-commands at the start of a line, export formats and table names
//! as their arguments, and table names, column names and SQL keywords in a statement.

use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

use super::commands::COMMANDS;

const KEYWORDS: [&str; 32] = [
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP BY",
    "ORDER BY",
    "LIMIT",
    "HAVING",
    "DISTINCT",
    "COUNT(*)",
    "AS",
    "AND",
    "OR",
    "NOT",
    "IN",
    "LIKE",
    "ILIKE",
    "BETWEEN",
    "IS NULL",
    "IS NOT NULL",
    "DESC",
    "ASC",
    "JOIN",
    "LEFT JOIN",
    "ON",
    "UNION ALL",
    "WITH",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "array_contains(",
];

pub struct ShellHelper {
    pub tables: Vec<String>,
    pub columns: Vec<String>,
    pub formats: Vec<&'static str>,
}

fn word_start(line: &str, pos: usize) -> usize {
    line[..pos]
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphanumeric() || *c == '_' || *c == '.' || *c == '-')
        .last()
        .map_or(pos, |(i, _)| i)
}

impl ShellHelper {
    /// Candidates for the word ending at `pos`.
    pub fn candidates(&self, line: &str, pos: usize) -> (usize, Vec<String>) {
        let start = word_start(line, pos);
        let word = &line[start..pos];
        let before = line[..start].trim_start();
        let lower = word.to_lowercase();
        let matching = |list: &mut dyn Iterator<Item = &str>| -> Vec<String> {
            list.filter(|c| c.to_lowercase().starts_with(&lower))
                .map(str::to_string)
                .collect()
        };
        if before.is_empty() && word.starts_with('.') {
            return (start, matching(&mut COMMANDS.iter().map(|c| c.0)));
        }
        if before.starts_with('.') {
            let cmd = before.split_whitespace().next().unwrap_or("");
            let argn = before.split_whitespace().count();
            return match (cmd, argn) {
                (".schema", 1) => (start, matching(&mut self.tables.iter().map(String::as_str))),
                (".export", 1) => (start, matching(&mut self.formats.iter().copied())),
                _ => (start, Vec::new()),
            };
        }
        if word.is_empty() {
            return (start, Vec::new());
        }
        let mut all = self
            .tables
            .iter()
            .map(String::as_str)
            .chain(self.columns.iter().map(String::as_str));
        let mut found = matching(&mut all);
        found.extend(matching(&mut KEYWORDS.iter().copied()));
        found.dedup();
        (start, found)
    }
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, found) = self.candidates(line, pos);
        Ok((
            start,
            found
                .into_iter()
                .map(|c| Pair {
                    display: c.clone(),
                    replacement: c,
                })
                .collect(),
        ))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}
impl Highlighter for ShellHelper {}
impl Validator for ShellHelper {}
impl Helper for ShellHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn helper() -> ShellHelper {
        ShellHelper {
            tables: vec![
                "timeline".into(),
                "findings".into(),
                "finding_events".into(),
            ],
            columns: vec!["ts".into(), "source".into(), "finding_id".into()],
            formats: vec!["timesketch-jsonl", "mvt-csv"],
        }
    }

    #[test]
    fn completes_commands_tables_columns_and_formats() {
        let h = helper();
        assert_eq!(h.candidates(".ar", 3), (0, vec![".around".to_string()]));
        assert_eq!(
            h.candidates("select * from fin", 17).1,
            vec!["findings", "finding_events", "finding_id"]
        );
        assert_eq!(
            h.candidates("SELECT sou", 10),
            (7, vec!["source".to_string()])
        );
        assert_eq!(
            h.candidates(".schema time", 12),
            (8, vec!["timeline".to_string()])
        );
        assert_eq!(
            h.candidates(".export mv", 10),
            (8, vec!["mvt-csv".to_string()])
        );
        assert_eq!(h.candidates("select * fr", 11).1, vec!["FROM"]);
    }
}
