//! Schema-driven SQL for joins: each table's real columns, read once, so a query names
//! only what exists and puts `NULL` in place of the rest. Apple adds and drops columns
//! across iOS versions (sms.db gained `attributedBody`-only bodies, TCC.db replaced
//! `allowed` by `auth_value`); a query written for one version must not fail on another.

use super::Parse;

/// One table as it exists in the database at hand.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: &'static str,
    alias: &'static str,
    columns: Vec<String>,
}

impl Table {
    /// Reads the columns of `name`; `alias` is the name the query gives the table.
    pub fn read(conn: &rusqlite::Connection, name: &'static str, alias: &'static str) -> Table {
        Table {
            name,
            alias,
            columns: crate::evidence::table_columns(conn, name),
        }
    }

    pub fn exists(&self) -> bool {
        !self.columns.is_empty()
    }

    pub fn has(&self, column: &str) -> bool {
        self.columns.iter().any(|c| c.eq_ignore_ascii_case(column))
    }

    /// `alias."column"` when the column exists, `NULL` otherwise.
    pub fn col(&self, column: &str) -> String {
        if self.has(column) {
            format!("{}.\"{column}\"", self.alias)
        } else {
            "NULL".to_string()
        }
    }

    /// `FROM`/`JOIN` operand: `"name" alias`.
    pub fn source(&self) -> String {
        format!("\"{}\" {}", self.name, self.alias)
    }

    /// Warns about a missing table, or about the wanted columns it lacks. Returns
    /// whether the table exists.
    pub fn check(&self, wanted: &[&str], p: &mut Parse<'_>) -> bool {
        if !self.exists() {
            p.warn(format!("table {} not found", self.name));
            return false;
        }
        let missing: Vec<&str> = wanted.iter().copied().filter(|w| !self.has(w)).collect();
        if !missing.is_empty() {
            p.warn(format!(
                "table {} lacks columns {}",
                self.name,
                missing.join(", ")
            ));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_columns_become_null() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE handle (ROWID INTEGER PRIMARY KEY, id TEXT)")
            .unwrap();
        let h = Table::read(&conn, "handle", "h");
        assert!(h.exists());
        assert_eq!(h.col("id"), "h.\"id\"");
        assert_eq!(h.col("ID"), "h.\"ID\"");
        assert_eq!(h.col("service"), "NULL");
        assert!(!Table::read(&conn, "chat", "c").exists());
    }
}
