//! CSV cells that a spreadsheet will not run as formulas.
//!
//! Message bodies, file and process names come from the attacker. A cell starting with
//! `=`, `+`, `-`, `@`, a tab or a carriage return is read as a formula by Excel, LibreOffice
//! and Google Sheets (OWASP "CSV Injection"); prefixing a single quote makes them show it as
//! text. Quoting (commas, quotes, newlines) is a separate matter: [`field`] does both.

use std::borrow::Cow;

/// Characters that make a spreadsheet treat a cell as a formula when they come first.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// The cell text with a leading `'` when it would otherwise start a formula.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some(c) if FORMULA_STARTS.contains(&c) => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// One CSV field (RFC 4180): neutralised, then quoted when it holds a comma, a quote,
/// a CR or a LF, with inner quotes doubled.
pub fn field(cell: &str) -> Cow<'_, str> {
    let safe = neutralise(cell);
    if safe.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", safe.replace('"', "\"\"")))
    } else {
        safe
    }
}

/// One CSV line (without the line end) from cells.
pub fn record<'a>(cells: impl IntoIterator<Item = &'a str>) -> String {
    let mut line = String::new();
    for (i, c) in cells.into_iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        line.push_str(&field(c));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starts_are_neutralised() {
        assert_eq!(
            neutralise("=HYPERLINK(\"http://x\",\"y\")"),
            "'=HYPERLINK(\"http://x\",\"y\")"
        );
        assert_eq!(neutralise("+1+1"), "'+1+1");
        assert_eq!(neutralise("-2+3"), "'-2+3");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("\tcmd"), "'\tcmd");
        assert_eq!(neutralise("\rcmd"), "'\rcmd");
    }

    #[test]
    fn ordinary_text_is_untouched() {
        assert!(matches!(
            neutralise("IMTransferAgent"),
            Cow::Borrowed("IMTransferAgent")
        ));
        assert_eq!(neutralise(""), "");
        assert_eq!(neutralise("a=b"), "a=b");
        assert_eq!(neutralise(" =1"), " =1");
    }

    #[test]
    fn fields_are_quoted_after_neutralising() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(field("=1,2"), "\"'=1,2\"");
        assert_eq!(field("\rx"), "\"'\rx\"");
    }

    #[test]
    fn records_join_fields() {
        assert_eq!(
            record([
                "2022-09-13T10:04:11.890000Z",
                "sms",
                "=cmd|' /C calc'!A0",
                "a,b"
            ]),
            "2022-09-13T10:04:11.890000Z,sms,'=cmd|' /C calc'!A0,\"a,b\""
        );
    }
}
