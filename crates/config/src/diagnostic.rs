//! Config errors and warnings that say exactly where: file, line, column, field path,
//! the offending value and the rule it breaks.

use std::{fmt, ops::Range};

#[cfg(test)]
use std::path::Path;

use toml::de::{DeTable, DeValue};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One finding in a config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    /// e.g. `rules[3].then.queue`
    pub path: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "",
            Severity::Warning => "warning: ",
        };
        write!(f, "{}:{}:{}: {kind}", self.file, self.line, self.column)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Turns byte offsets into file, line and column. A config directory's files are laid
/// end to end in one offset space (each parsed behind padding of its start offset), so a
/// span anywhere in the config names its own file.
#[derive(Debug)]
pub(crate) struct Source<'a> {
    files: Vec<SourceFile<'a>>,
}

#[derive(Debug)]
struct SourceFile<'a> {
    name: String,
    /// Where the file starts in the shared offset space.
    base: usize,
    text: &'a str,
}

impl<'a> Source<'a> {
    #[cfg(test)]
    pub(crate) fn new(path: &Path, text: &'a str) -> Self {
        Source {
            files: vec![SourceFile {
                name: path.display().to_string(),
                base: 0,
                text,
            }],
        }
    }

    /// Several files, each starting at the given offset (in increasing order).
    pub(crate) fn files(files: impl IntoIterator<Item = (String, usize, &'a str)>) -> Self {
        Source {
            files: files
                .into_iter()
                .map(|(name, base, text)| SourceFile { name, base, text })
                .collect(),
        }
    }

    fn file(&self, offset: usize) -> Option<&SourceFile<'a>> {
        self.files.iter().rev().find(|f| f.base <= offset)
    }

    /// The text of a span, if it lies within one file.
    pub(crate) fn slice(&self, span: Range<usize>) -> Option<&'a str> {
        let f = self.file(span.start)?;
        f.text
            .get(span.start - f.base..span.end.checked_sub(f.base)?)
    }

    pub(crate) fn at(
        &self,
        severity: Severity,
        span: Range<usize>,
        path: &str,
        message: String,
    ) -> Diagnostic {
        let (file, text, offset) = match self.file(span.start) {
            Some(f) => (f.name.clone(), f.text, span.start - f.base),
            None => (String::new(), "", 0),
        };
        let offset = offset.min(text.len());
        let before = &text[..floor_char_boundary(text, offset)];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Diagnostic {
            severity,
            file,
            line,
            column,
            path: path.to_owned(),
            message,
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The field path of the deepest key or value whose span holds `offset`, e.g.
/// `rules[2].then.queue`. Serde's errors carry a position but no path; this recovers it
/// from the spanned document.
pub(crate) fn path_at(text: &str, offset: usize) -> String {
    let Ok(doc) = DeTable::parse(text) else {
        return String::new();
    };
    let mut path = String::new();
    walk_table(doc.get_ref(), offset, &mut path);
    path
}

fn walk_table(table: &DeTable<'_>, offset: usize, path: &mut String) {
    for (key, value) in table.iter() {
        let in_key = key.span().contains(&offset);
        let in_value = value.span().contains(&offset);
        if in_key || in_value {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(key.get_ref());
            if in_value {
                walk_value(value.get_ref(), offset, path);
            }
            return;
        }
    }
    // Tables from `[header]` sections have spans that do not cover their keys; look in
    // every nested table for the offset.
    for (key, value) in table.iter() {
        let mut sub = String::new();
        walk_value(value.get_ref(), offset, &mut sub);
        if !sub.is_empty() {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(key.get_ref());
            if !sub.starts_with('[') {
                path.push('.');
            }
            path.push_str(&sub);
            return;
        }
    }
}

fn walk_value(value: &DeValue<'_>, offset: usize, path: &mut String) {
    match value {
        DeValue::Table(t) => walk_table(t, offset, path),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let mut sub = String::new();
                walk_value(item.get_ref(), offset, &mut sub);
                if item.span().contains(&offset) || !sub.is_empty() {
                    path.push_str(&format!("[{i}]"));
                    if !sub.is_empty() {
                        if !sub.starts_with('[') {
                            path.push('.');
                        }
                        path.push_str(&sub);
                    }
                    return;
                }
            }
        }
        _ => {}
    }
}

/// The closest of `candidates` to `name`, if it is close enough to be a likely typo.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let length = name.chars().count();
    let limit = (length / 3).max(1);
    candidates
        .into_iter()
        // The distance is at least the difference in length: a name far longer than
        // any candidate (a megabyte sent by mistake) is not compared at all.
        .filter(|c| length.abs_diff(c.chars().count()) <= limit)
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, c)| *d <= limit && !c.is_empty())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// " (did you mean \"x\"?)" or nothing.
pub(crate) fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> String {
    suggest(name, candidates)
        .map(|s| format!(" (did you mean {s:?}?)"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_typos_but_not_unrelated_names() {
        let names = ["platinum", "gold", "standard"];
        assert_eq!(suggest("platnum", names), Some("platinum"));
        assert_eq!(suggest("golf", names), Some("gold"));
        assert_eq!(suggest("bronze", names), None);
    }

    #[test]
    fn paths_reach_into_arrays_of_tables_and_inline_tables() {
        let text = "[[rules]]\nname = \"a\"\n[[rules]]\nname = \"b\"\nthen = { queue = \"x\" }\n";
        let offset = text.find("\"x\"").unwrap();
        assert_eq!(path_at(text, offset), "rules[1].then.queue");
        let text = "[lines.main]\nnumber = \"1\"\n";
        assert_eq!(
            path_at(text, text.find("\"1\"").unwrap()),
            "lines.main.number"
        );
    }

    #[test]
    fn positions_are_one_based_lines_and_columns() {
        let src = Source::new(Path::new("f.toml"), "a = 1\nbé = 2\n");
        let d = src.at(Severity::Error, 10..11, "b", "bad".into());
        // Byte 10 is the '=' after "bé ", the fourth character of line 2.
        assert_eq!((d.line, d.column), (2, 4));
        assert_eq!(d.to_string(), "f.toml:2:4: b: bad");
    }
}
