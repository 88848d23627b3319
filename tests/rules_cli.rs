//! `chainline rules list | check | test` on the built-in rules and a saved case.

mod common;

use common::{case, chainline, stderr, stdout};

#[test]
fn list_names_every_builtin_rule_and_its_trigger_sources() {
    let o = chainline(&["rules", "list"], "");
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for (file, _) in chainline::detect::rule::BUILTIN {
        let id = file.trim_start_matches("rules/").trim_end_matches(".toml");
        assert!(text.contains(id), "{id} missing from:\n{text}");
    }
    // The disguised-attachment rule triggers on sms.db rows only.
    let line = text
        .lines()
        .find(|l| l.starts_with("disguised_attachment"))
        .unwrap();
    assert!(line.ends_with("triggers on sms"), "{line}");
}

#[test]
fn list_says_whether_a_case_holds_the_sources() {
    let (_dir, out) = case();
    std::fs::write(
        out.join("run.json"),
        r#"{"rows_by_source": {"datausage": 3, "sms": 2}}"#,
    )
    .unwrap();
    let o = chainline(&["rules", "list", "--case", out.to_str().unwrap()], "");
    let text = stdout(&o);
    let line = |id: &str| {
        text.lines()
            .find(|l| l.starts_with(id))
            .unwrap()
            .to_string()
    };
    assert!(line("forcedentry").contains("[has sms]"), "{text}");
    assert!(
        line("shutdown_anomalies").contains("[no trigger source"),
        "{text}"
    );
}

#[test]
fn check_accepts_a_good_file_and_names_the_error_of_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "id = \"my_rule\"\ntitle = \"A test\"\nseverity = \"low\"\n[[trigger]]\nname = \"t\"\nclass = \"net\"\nsource = \"datausage\"\n",
    )
    .unwrap();
    let o = chainline(&["rules", "check", good.to_str().unwrap()], "");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("ok: my_rule"));
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "id = \"x\"\n").unwrap();
    let o = chainline(&["rules", "check", bad.to_str().unwrap()], "");
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("missing field `title`"),
        "{}",
        stderr(&o)
    );
}

/// The fixture case holds BackupAgent network use: the exact rule's trigger row is
/// explained as qualified.
#[test]
fn test_explains_each_trigger_row() {
    let (_dir, out) = case();
    let o = chainline(
        &[
            "rules",
            "test",
            "triangulation_exact",
            "--case",
            out.to_str().unwrap(),
        ],
        "",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("rule triangulation_exact: 1 trigger rows, 1 qualified"),
        "{text}"
    );
    assert!(text.contains("QUALIFIED"), "{text}");
    let o = chainline(
        &[
            "rules",
            "test",
            "no_such_rule",
            "--case",
            out.to_str().unwrap(),
        ],
        "",
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no built-in rule has that id"));
}
