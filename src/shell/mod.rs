//! `chainline shell OUT`: an interactive investigation of a finished analysis.
//!
//! On a terminal it is a line editor (history in OUT/.chainline_history, tab
//! completion); otherwise it reads commands from stdin with no prompts, so a session
//! can be scripted and tested. SQL statements end at `;` and may span lines; a line
//! starting with `.` is a dot-command (see `.help`).

mod commands;
mod complete;
pub mod context;

pub use commands::{export_summary, Flow, Session, ShellError, COMMANDS};

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::Editor;

use crate::query::{QueryError, Zone};

pub const HISTORY_FILE: &str = ".chainline_history";

/// One complete input: a dot-command line or an SQL statement.
#[derive(Debug, PartialEq, Eq)]
pub enum Input {
    Command(String),
    Sql(String),
}

/// Gathers lines into inputs: dot-commands are one line, SQL runs to a `;` outside
/// quotes (several statements may share a line).
#[derive(Debug, Default)]
pub struct Reader {
    pending: String,
}

impl Reader {
    pub fn is_pending(&self) -> bool {
        !self.pending.trim().is_empty()
    }

    pub fn clear(&mut self) {
        self.pending.clear();
    }

    pub fn push_line(&mut self, line: &str) -> Vec<Input> {
        let trimmed = line.trim();
        if !self.is_pending() {
            if trimmed.starts_with('.') {
                return vec![Input::Command(trimmed.to_string())];
            }
            if trimmed.is_empty() || trimmed.starts_with("--") {
                return Vec::new();
            }
        }
        if !self.pending.is_empty() {
            self.pending.push('\n');
        }
        self.pending.push_str(line);
        let mut done = Vec::new();
        while let Some(end) = statement_end(&self.pending) {
            let stmt: String = self.pending.drain(..=end).collect();
            let stmt = stmt.trim().trim_end_matches(';').trim();
            if !stmt.is_empty() {
                done.push(Input::Sql(stmt.to_string()));
            }
        }
        if self.pending.trim().is_empty() {
            self.pending.clear();
        }
        done
    }

    /// What is left at end of input: a statement missing its `;` still runs.
    pub fn finish(&mut self) -> Option<Input> {
        let rest = std::mem::take(&mut self.pending);
        let rest = rest.trim();
        (!rest.is_empty()).then(|| Input::Sql(rest.to_string()))
    }
}

/// Byte index of the first `;` outside '…' and "…" (SQL doubles a quote to escape it,
/// which toggling handles), or None.
fn statement_end(s: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ';') => return Some(i),
            _ => {}
        }
    }
    None
}

/// Runs the shell on `path` (an output folder). Returns whether every command of a
/// scripted session succeeded (an interactive session always counts as success).
pub fn run(path: &Path, zone: Zone) -> Result<bool, QueryError> {
    let mut session = Session::open(path, zone)?;
    if std::io::stdin().is_terminal() {
        interactive(&mut session);
        Ok(true)
    } else {
        let stdin = std::io::stdin();
        let stdout = std::io::stdout();
        Ok(script(&mut session, stdin.lock(), &mut stdout.lock()))
    }
}

fn execute(session: &mut Session, input: &Input, out: &mut dyn Write) -> Result<Flow, ShellError> {
    match input {
        Input::Command(line) => session.command(line, out),
        Input::Sql(sql) => session.sql(sql, out).map(|()| Flow::Continue),
    }
}

/// Reads commands from `input` until it ends or `.quit`; errors go to stderr and the
/// session goes on. Returns false when any command failed.
pub fn script(session: &mut Session, input: impl BufRead, out: &mut dyn Write) -> bool {
    let mut reader = Reader::default();
    let mut ok = true;
    let mut run = |inp: Input, out: &mut dyn Write| -> Flow {
        match execute(session, &inp, out) {
            Ok(flow) => flow,
            Err(e) => {
                let _ = out.flush();
                eprintln!("error: {e}");
                ok = false;
                Flow::Continue
            }
        }
    };
    'lines: for line in input.lines() {
        let Ok(line) = line else { break };
        for inp in reader.push_line(&line) {
            if run(inp, out) == Flow::Quit {
                break 'lines;
            }
        }
    }
    if let Some(inp) = reader.finish() {
        run(inp, out);
    }
    let _ = out.flush();
    ok
}

fn interactive(session: &mut Session) {
    let history = session.out_dir().join(HISTORY_FILE);
    let config = rustyline::Config::builder()
        .auto_add_history(false)
        .max_history_size(5_000)
        .map(|b| b.build());
    let editor = match config {
        Ok(c) => Editor::<complete::ShellHelper, FileHistory>::with_config(c),
        Err(e) => Err(e),
    };
    let mut editor = match editor {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: cannot start the line editor ({e}); reading commands without it");
            let stdin = std::io::stdin();
            let stdout = std::io::stdout();
            script(session, stdin.lock(), &mut stdout.lock());
            return;
        }
    };
    let columns = session.columns();
    editor.set_helper(Some(complete::ShellHelper {
        tables: session.tables(),
        columns,
        formats: vec![
            "timesketch-jsonl",
            "timesketch-csv",
            "mvt-csv",
            "csv",
            "json",
        ],
    }));
    // A first session has no history yet; anything else is worth a word.
    if history.exists() {
        if let Err(e) = editor.load_history(&history) {
            eprintln!("warning: could not read {}: {e}", history.display());
        }
    }
    println!(
        "chainline shell on {} — .help for commands, statements end with ;",
        session.out_dir().display()
    );
    let mut reader = Reader::default();
    let mut history_warned = false;
    let mut entry = String::new();
    loop {
        let prompt = if reader.is_pending() {
            "     ...> "
        } else {
            "chainline> "
        };
        let line = match editor.readline(prompt) {
            Ok(l) => l,
            Err(ReadlineError::Interrupted) => {
                reader.clear();
                entry.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("error: {e}");
                break;
            }
        };
        // A statement typed over several lines is recalled as one line.
        if !line.trim().is_empty() {
            if !entry.is_empty() {
                entry.push(' ');
            }
            entry.push_str(line.trim());
        }
        let inputs = reader.push_line(&line);
        if !reader.is_pending() && !entry.is_empty() {
            let _ = editor.add_history_entry(std::mem::take(&mut entry));
            if let Err(e) = editor.save_history(&history) {
                if !history_warned {
                    eprintln!(
                        "warning: could not save history to {}: {e}",
                        history.display()
                    );
                    history_warned = true;
                }
            }
        }
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        let mut quit = false;
        for inp in inputs {
            match execute(session, &inp, &mut out) {
                Ok(Flow::Quit) => {
                    quit = true;
                    break;
                }
                Ok(Flow::Continue) => {}
                Err(e) => {
                    let _ = out.flush();
                    eprintln!("error: {e}");
                }
            }
            // A CREATE TABLE adds names worth completing.
            if let (Input::Sql(_), Some(h)) = (&inp, editor.helper_mut()) {
                h.tables = session.tables();
            }
        }
        if quit {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(s: &str) -> Input {
        Input::Sql(s.into())
    }

    #[test]
    fn statements_end_at_semicolons_outside_quotes() {
        let mut r = Reader::default();
        assert_eq!(r.push_line("SELECT 'a;b'"), vec![]);
        assert!(r.is_pending());
        assert_eq!(r.push_line("FROM t;"), vec![sql("SELECT 'a;b'\nFROM t")]);
        assert!(!r.is_pending());
        assert_eq!(
            r.push_line("SELECT 1; SELECT \"x;\" ;"),
            vec![sql("SELECT 1"), sql("SELECT \"x;\"")]
        );
        assert_eq!(r.push_line("SELECT 'it''s';"), vec![sql("SELECT 'it''s'")]);
    }

    #[test]
    fn dot_commands_are_one_line_unless_inside_a_statement() {
        let mut r = Reader::default();
        assert_eq!(
            r.push_line("  .around F001 5m "),
            vec![Input::Command(".around F001 5m".into())]
        );
        assert_eq!(r.push_line("-- a comment"), vec![]);
        assert_eq!(r.push_line("SELECT 1.5"), vec![]);
        assert_eq!(r.push_line(".5 AS x"), vec![]);
        assert_eq!(r.finish(), Some(sql("SELECT 1.5\n.5 AS x")));
        assert_eq!(r.finish(), None);
    }
}
