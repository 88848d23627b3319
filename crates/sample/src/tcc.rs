//! HomeDomain `Library/TCC/TCC.db`: privacy permissions. The schema is the one of
//! the real iOS 14.3 file in MVT's test backup (the `access` table with `auth_value`
//! and `auth_reason`, `last_modified` in Unix seconds).

use std::path::Path;

use rusqlite::params;

use super::backup::{create_db, finish_db};
use super::clock;
use super::model::World;
use super::{sql_err, SampleError};

const SCHEMA: &str = "
CREATE TABLE admin (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);
CREATE TABLE policies (    id        INTEGER    NOT NULL PRIMARY KEY,     bundle_id    TEXT    NOT NULL,     uuid        TEXT    NOT NULL,     display        TEXT    NOT NULL,     UNIQUE (bundle_id, uuid));
CREATE TABLE active_policy (    client        TEXT    NOT NULL,     client_type    INTEGER    NOT NULL,     policy_id    INTEGER NOT NULL,     PRIMARY KEY (client, client_type),     FOREIGN KEY (policy_id) REFERENCES policies(id) ON DELETE CASCADE ON UPDATE CASCADE);
CREATE TABLE access_overrides (    service        TEXT    NOT NULL PRIMARY KEY);
CREATE TABLE expired (    service        TEXT        NOT NULL,     client         TEXT        NOT NULL,     client_type    INTEGER     NOT NULL,     csreq          BLOB,     last_modified  INTEGER     NOT NULL ,     expired_at     INTEGER     NOT NULL DEFAULT (CAST(strftime('%s','now') AS INTEGER)),     PRIMARY KEY (service, client, client_type));
CREATE TABLE IF NOT EXISTS \"access\" (    service        TEXT        NOT NULL,     client         TEXT        NOT NULL,     client_type    INTEGER     NOT NULL,     auth_value     INTEGER     NOT NULL,     auth_reason    INTEGER     NOT NULL,     auth_version   INTEGER     NOT NULL,     csreq          BLOB,     policy_id      INTEGER,     indirect_object_identifier_type    INTEGER,     indirect_object_identifier         TEXT NOT NULL DEFAULT 'UNUSED',     indirect_object_code_identity      BLOB,     flags          INTEGER,     last_modified  INTEGER     NOT NULL DEFAULT (CAST(strftime('%s','now') AS INTEGER)),     PRIMARY KEY (service, client, client_type, indirect_object_identifier),    FOREIGN KEY (policy_id) REFERENCES policies(id) ON DELETE CASCADE ON UPDATE CASCADE);
CREATE INDEX active_policy_id ON active_policy(policy_id);
";

pub fn write(w: &World, path: &Path) -> Result<(), SampleError> {
    let mut conn = create_db(path)?;
    let e = sql_err(path);
    conn.execute_batch(SCHEMA).map_err(&e)?;
    let tx = conn.transaction().map_err(&e)?;
    {
        tx.execute("INSERT INTO admin (key, value) VALUES ('version', 20)", [])
            .map_err(&e)?;
        let mut rows: Vec<_> = w.tcc.iter().collect();
        rows.sort_by_key(|r| r.us);
        let mut stmt = tx
            .prepare(
                "INSERT INTO access (service, client, client_type, auth_value, auth_reason, auth_version, csreq, policy_id, indirect_object_identifier_type, indirect_object_identifier, indirect_object_code_identity, flags, last_modified)
                 VALUES (?1, ?2, 0, ?3, ?4, 1, NULL, NULL, 0, 'UNUSED', NULL, 0, ?5)",
            )
            .map_err(&e)?;
        for r in rows {
            stmt.execute(params![
                r.service,
                r.client,
                r.auth_value,
                r.auth_reason,
                clock::unix_secs(r.us)
            ])
            .map_err(&e)?;
        }
    }
    tx.commit().map_err(&e)?;
    finish_db(conn, path)
}
