//! CSV cells that a spreadsheet will not execute.
//!
//! Message bodies, file names and URLs come from the attacker. Excel, LibreOffice and
//! Google Sheets treat a cell starting with `=`, `+`, `-` or `@` as a formula, and strip
//! a leading tab or carriage return before deciding, so `=HYPERLINK(...)` in an SMS
//! would run on the examiner's machine (OWASP "CSV Injection"). A leading `'` makes the
//! spreadsheet show the text as text.

use std::borrow::Cow;

/// The cell with a `'` in front when a spreadsheet would read it as a formula.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_get_a_leading_quote() {
        assert_eq!(
            neutralise("=HYPERLINK(\"http://x\",\"y\")"),
            "'=HYPERLINK(\"http://x\",\"y\")"
        );
        assert_eq!(neutralise("+1+2"), "'+1+2");
        assert_eq!(neutralise("-2+3"), "'-2+3");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("\t=1"), "'\t=1");
        assert_eq!(neutralise("\r=1"), "'\r=1");
    }

    #[test]
    fn ordinary_text_is_untouched_and_not_copied() {
        for s in ["", "hello", "a=b", " =1", "'already", "2019-08-29"] {
            assert!(matches!(neutralise(s), Cow::Borrowed(b) if b == s), "{s:?}");
        }
    }
}
