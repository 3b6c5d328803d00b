//! The rule condition language, as written: a lexer and a recursive-descent parser that
//! turn `caller.tier in ["gold", "platinum"] and caller.lifetime_value > 5000` into a
//! syntax tree with byte spans, so that every later error can point at its column.
//!
//! Grammar, loosest first:
//!
//! ```text
//! or      := and ("or" and)*
//! and     := not ("and" not)*
//! not     := "not" not | compare
//! compare := operand (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not in") operand)?
//! operand := "(" or ")" | "[" (operand ("," operand)*)? "]" | STRING | NUMBER
//!          | "true" | "false" | reference
//! reference := segment ("." segment)*      segment := NAME ("(" (operand ("," operand)*)? ")")?
//! ```

use std::ops::Range;

use switchboard_core::condition::Cmp;

/// Longest condition accepted, in bytes.
pub(crate) const MAX_LEN: usize = 4_096;
/// Deepest nesting of parentheses, lists and `not`.
pub(crate) const MAX_DEPTH: usize = 32;

/// A problem at a place in the condition text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ExprError {
    pub(crate) span: Range<usize>,
    pub(crate) message: String,
}

fn err<T>(span: Range<usize>, message: impl Into<String>) -> Result<T, ExprError> {
    Err(ExprError {
        span,
        message: message.into(),
    })
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Name(String),
    Str(String),
    Num(f64),
    Op(Cmp),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    And,
    Or,
    Not,
    In,
    True,
    False,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Name(n) => format!("name {n:?}"),
            Tok::Str(s) => format!("text {s:?}"),
            Tok::Num(n) => format!("number {n}"),
            Tok::Op(c) => format!("{:?}", c.as_str()),
            Tok::LParen => "\"(\"".into(),
            Tok::RParen => "\")\"".into(),
            Tok::LBracket => "\"[\"".into(),
            Tok::RBracket => "\"]\"".into(),
            Tok::Comma => "\",\"".into(),
            Tok::Dot => "\".\"".into(),
            Tok::And => "\"and\"".into(),
            Tok::Or => "\"or\"".into(),
            Tok::Not => "\"not\"".into(),
            Tok::In => "\"in\"".into(),
            Tok::True => "\"true\"".into(),
            Tok::False => "\"false\"".into(),
        }
    }
}

fn lex(text: &str) -> Result<Vec<(Tok, Range<usize>)>, ExprError> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let single = |t: Tok| (t, start..start + 1);
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => out.push(single(Tok::LParen)),
            b')' => out.push(single(Tok::RParen)),
            b'[' => out.push(single(Tok::LBracket)),
            b']' => out.push(single(Tok::RBracket)),
            b',' => out.push(single(Tok::Comma)),
            b'.' if !bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => out.push(single(Tok::Dot)),
            b'=' | b'!' | b'<' | b'>' => {
                let two = bytes.get(i + 1) == Some(&b'=');
                let op = match (c, two) {
                    (b'=', true) => Cmp::Eq,
                    (b'!', true) => Cmp::Ne,
                    (b'<', true) => Cmp::Le,
                    (b'>', true) => Cmp::Ge,
                    (b'<', false) => Cmp::Lt,
                    (b'>', false) => Cmp::Gt,
                    (b'=', false) => return err(start..start + 1, "use \"==\" to compare"),
                    _ => {
                        return err(
                            start..start + 1,
                            "use \"not\" to negate, \"!=\" for unequal",
                        );
                    }
                };
                let len = if two { 2 } else { 1 };
                out.push((Tok::Op(op), start..start + len));
                i += len;
                continue;
            }
            b'&' | b'|' => {
                let word = if c == b'&' { "and" } else { "or" };
                return err(
                    start..start + 1,
                    format!("use \"{word}\" to combine conditions"),
                );
            }
            b'"' | b'\'' => {
                let quote = c;
                i += 1;
                let mut value = String::new();
                loop {
                    match bytes.get(i) {
                        None => return err(start..text.len(), "text is missing its closing quote"),
                        Some(b) if *b == quote => break,
                        Some(b'\\') => {
                            let escaped = match bytes.get(i + 1) {
                                Some(b'\\') => '\\',
                                Some(b'"') => '"',
                                Some(b'\'') => '\'',
                                _ => {
                                    return err(
                                        i..i + 2,
                                        "unknown escape: only \\\\, \\\" and \\' are allowed",
                                    );
                                }
                            };
                            value.push(escaped);
                            i += 2;
                        }
                        Some(_) => {
                            // Whole characters, so multi-byte text stays intact.
                            let ch = text[i..].chars().next().unwrap_or('\u{fffd}');
                            if ch.is_control() {
                                return err(i..i + ch.len_utf8(), "control character in text");
                            }
                            value.push(ch);
                            i += ch.len_utf8();
                        }
                    }
                }
                i += 1;
                out.push((Tok::Str(value), start..i));
                continue;
            }
            b'0'..=b'9' | b'.' | b'-' => {
                i += 1;
                while i < bytes.len()
                    && (bytes[i].is_ascii_digit() || bytes[i] == b'.' || bytes[i] == b'_')
                {
                    i += 1;
                }
                let raw: String = text[start..i].chars().filter(|c| *c != '_').collect();
                match raw.parse::<f64>() {
                    Ok(v) if v.is_finite() && raw != "-" => out.push((Tok::Num(v), start..i)),
                    _ => return err(start..i, format!("{:?} is not a number", &text[start..i])),
                }
                continue;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'-')
                {
                    i += 1;
                }
                let word = &text[start..i];
                let tok = match word {
                    "and" => Tok::And,
                    "or" => Tok::Or,
                    "not" => Tok::Not,
                    "in" => Tok::In,
                    "true" => Tok::True,
                    "false" => Tok::False,
                    "AND" | "OR" | "NOT" | "IN" | "True" | "False" | "TRUE" | "FALSE" => {
                        return err(
                            start..i,
                            format!(
                                "{word:?}: keywords are lowercase ({:?})",
                                word.to_lowercase()
                            ),
                        );
                    }
                    _ => Tok::Name(word.to_owned()),
                };
                out.push((tok, start..i));
                continue;
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or('\u{fffd}');
                return err(i..i + ch.len_utf8(), format!("unexpected character {ch:?}"));
            }
        }
        i += 1;
    }
    Ok(out)
}

/// A comparison operator, membership included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Cmp(Cmp),
    In,
    NotIn,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Expr {
    pub(crate) kind: Kind,
    pub(crate) span: Range<usize>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Kind {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Compare(Box<Expr>, Op, Box<Expr>),
    Ref(Vec<Segment>),
    Str(String),
    Num(f64),
    Bool(bool),
    List(Vec<Expr>),
}

/// `name` or `name(args)` in a dotted reference.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Segment {
    pub(crate) name: String,
    pub(crate) args: Option<Vec<Expr>>,
    pub(crate) span: Range<usize>,
}

/// Parses a whole condition.
pub(crate) fn parse(text: &str) -> Result<Expr, ExprError> {
    if text.len() > MAX_LEN {
        return err(0..0, format!("longer than {MAX_LEN} characters"));
    }
    let tokens = lex(text)?;
    if tokens.is_empty() {
        return err(
            0..text.len(),
            "empty condition (leave `when` out to match every call)",
        );
    }
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
        end: text.len(),
    };
    let e = p.or()?;
    if let Some((t, span)) = p.tokens.get(p.pos) {
        let hint = match t {
            Tok::Name(_) | Tok::Str(_) | Tok::Num(_) | Tok::LParen | Tok::True | Tok::False => {
                " (missing \"and\" or \"or\"?)"
            }
            _ => "",
        };
        return err(span.clone(), format!("unexpected {}{hint}", t.describe()));
    }
    Ok(e)
}

struct Parser {
    tokens: Vec<(Tok, Range<usize>)>,
    pos: usize,
    depth: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|(t, _)| t)
    }

    fn span(&self) -> Range<usize> {
        self.tokens
            .get(self.pos)
            .map_or(self.end..self.end, |(_, s)| s.clone())
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.peek() == Some(tok) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, tok: &Tok, context: &str) -> Result<Range<usize>, ExprError> {
        let span = self.span();
        if self.eat(tok) {
            Ok(span)
        } else {
            let found = self
                .peek()
                .map_or_else(|| "the end".to_owned(), Tok::describe);
            err(
                span,
                format!("expected {} {context}, found {found}", tok.describe()),
            )
        }
    }

    fn deeper(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err(self.span(), format!("nested more than {MAX_DEPTH} deep"));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, ExprError> {
        let first = self.and()?;
        if self.peek() != Some(&Tok::Or) {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat(&Tok::Or) {
            items.push(self.and()?);
        }
        let span = items[0].span.start..items[items.len() - 1].span.end;
        Ok(Expr {
            kind: Kind::Or(items),
            span,
        })
    }

    fn and(&mut self) -> Result<Expr, ExprError> {
        let first = self.not()?;
        if self.peek() != Some(&Tok::And) {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat(&Tok::And) {
            items.push(self.not()?);
        }
        let span = items[0].span.start..items[items.len() - 1].span.end;
        Ok(Expr {
            kind: Kind::And(items),
            span,
        })
    }

    fn not(&mut self) -> Result<Expr, ExprError> {
        let start = self.span().start;
        if self.eat(&Tok::Not) {
            self.deeper()?;
            let inner = self.not()?;
            self.depth -= 1;
            let span = start..inner.span.end;
            return Ok(Expr {
                kind: Kind::Not(Box::new(inner)),
                span,
            });
        }
        self.compare()
    }

    fn compare(&mut self) -> Result<Expr, ExprError> {
        let left = self.operand()?;
        let op = match self.peek() {
            Some(Tok::Op(c)) => Op::Cmp(*c),
            Some(Tok::In) => Op::In,
            Some(Tok::Not) if self.tokens.get(self.pos + 1).map(|(t, _)| t) == Some(&Tok::In) => {
                self.pos += 1;
                Op::NotIn
            }
            _ => return Ok(left),
        };
        self.pos += 1;
        let right = self.operand()?;
        if let Some(Tok::Op(_) | Tok::In) = self.peek() {
            return err(
                self.span(),
                "comparisons do not chain: join them with \"and\"",
            );
        }
        let span = left.span.start..right.span.end;
        Ok(Expr {
            kind: Kind::Compare(Box::new(left), op, Box::new(right)),
            span,
        })
    }

    fn operand(&mut self) -> Result<Expr, ExprError> {
        let span = self.span();
        let Some(tok) = self.peek().cloned() else {
            return err(span, "the condition ends too soon: expected a value");
        };
        let simple = |kind| {
            Ok(Expr {
                kind,
                span: span.clone(),
            })
        };
        match tok {
            Tok::LParen => {
                self.pos += 1;
                self.deeper()?;
                let inner = self.or()?;
                self.depth -= 1;
                let close = self.expect(&Tok::RParen, "to close \"(\"")?;
                Ok(Expr {
                    kind: inner.kind,
                    span: span.start..close.end,
                })
            }
            Tok::LBracket => {
                self.pos += 1;
                self.deeper()?;
                let mut items = Vec::new();
                if !self.eat(&Tok::RBracket) {
                    loop {
                        items.push(self.operand()?);
                        if self.eat(&Tok::Comma) {
                            if self.peek() == Some(&Tok::RBracket) {
                                self.pos += 1;
                                break;
                            }
                            continue;
                        }
                        self.expect(&Tok::RBracket, "to close the list")?;
                        break;
                    }
                }
                self.depth -= 1;
                let end = self.tokens[self.pos - 1].1.end;
                Ok(Expr {
                    kind: Kind::List(items),
                    span: span.start..end,
                })
            }
            Tok::Str(s) => {
                self.pos += 1;
                simple(Kind::Str(s))
            }
            Tok::Num(n) => {
                self.pos += 1;
                simple(Kind::Num(n))
            }
            Tok::True | Tok::False => {
                self.pos += 1;
                simple(Kind::Bool(tok == Tok::True))
            }
            Tok::Name(_) => self.reference(),
            other => err(
                span,
                format!("expected a value, found {}", other.describe()),
            ),
        }
    }

    fn reference(&mut self) -> Result<Expr, ExprError> {
        let start = self.span().start;
        let mut segments = Vec::new();
        loop {
            let span = self.span();
            let name = match self.peek() {
                Some(Tok::Name(n)) => n.clone(),
                Some(other) => {
                    return err(
                        span,
                        format!("expected a field name, found {}", other.describe()),
                    );
                }
                None => return err(span, "expected a field name after \".\""),
            };
            self.pos += 1;
            let mut end = span.end;
            let args = if self.eat(&Tok::LParen) {
                self.deeper()?;
                let mut args = Vec::new();
                if !self.eat(&Tok::RParen) {
                    loop {
                        args.push(self.operand()?);
                        if self.eat(&Tok::Comma) {
                            continue;
                        }
                        self.expect(&Tok::RParen, "to close the arguments")?;
                        break;
                    }
                }
                self.depth -= 1;
                end = self.tokens[self.pos - 1].1.end;
                Some(args)
            } else {
                None
            };
            segments.push(Segment {
                name,
                args,
                span: span.start..end,
            });
            if !self.eat(&Tok::Dot) {
                break;
            }
        }
        let end = segments.last().map_or(start, |s| s.span.end);
        Ok(Expr {
            kind: Kind::Ref(segments),
            span: start..end,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(text: &str) -> (String, Range<usize>) {
        let e = parse(text).unwrap_err();
        (e.message, e.span)
    }

    #[test]
    fn and_binds_tighter_than_or_and_not_tighter_than_and() {
        let e = parse("a or not b and c").unwrap();
        let Kind::Or(items) = e.kind else { panic!() };
        assert_eq!(items.len(), 2);
        let Kind::And(parts) = &items[1].kind else {
            panic!()
        };
        assert!(matches!(parts[0].kind, Kind::Not(_)));
    }

    #[test]
    fn references_carry_calls_and_fields() {
        let e = parse("queue(\"support\").estimated_wait > 120").unwrap();
        let Kind::Compare(left, Op::Cmp(Cmp::Gt), right) = e.kind else {
            panic!()
        };
        let Kind::Ref(segs) = left.kind else { panic!() };
        assert_eq!(segs[0].name, "queue");
        assert_eq!(segs[0].args.as_ref().unwrap().len(), 1);
        assert_eq!(segs[1].name, "estimated_wait");
        assert_eq!(right.kind, Kind::Num(120.0));
    }

    #[test]
    fn not_in_is_one_operator() {
        let e = parse("caller.tier not in [\"gold\", \"platinum\",]").unwrap();
        assert!(matches!(e.kind, Kind::Compare(_, Op::NotIn, _)));
    }

    #[test]
    fn spans_point_into_the_text() {
        let text = "caller.known and caller.tier >= \"gold\"";
        let e = parse(text).unwrap();
        let Kind::And(items) = e.kind else { panic!() };
        assert_eq!(&text[items[1].span.clone()], "caller.tier >= \"gold\"");
    }

    #[test]
    fn syntax_errors_say_what_was_expected_and_where() {
        assert_eq!(
            parse_err("caller.tier = \"gold\""),
            ("use \"==\" to compare".into(), 12..13)
        );
        assert_eq!(
            parse_err("caller.known && caller.repeat"),
            ("use \"and\" to combine conditions".into(), 13..14)
        );
        assert_eq!(
            parse_err("(caller.known"),
            (
                "expected \")\" to close \"(\", found the end".into(),
                13..13
            )
        );
        assert_eq!(
            parse_err("caller.tier == \"gold"),
            ("text is missing its closing quote".into(), 15..20)
        );
        assert_eq!(
            parse_err("caller.known caller.repeat"),
            (
                "unexpected name \"caller\" (missing \"and\" or \"or\"?)".into(),
                13..19
            )
        );
        assert_eq!(
            parse_err("1 < caller.influence < 5"),
            (
                "comparisons do not chain: join them with \"and\"".into(),
                21..22
            )
        );
        assert_eq!(
            parse_err("caller.known AND caller.repeat").0,
            "\"AND\": keywords are lowercase (\"and\")"
        );
        assert_eq!(
            parse_err("caller.tier == "),
            (
                "the condition ends too soon: expected a value".into(),
                15..15
            )
        );
        assert_eq!(
            parse_err("caller.tier == 1.2.3").0,
            "\"1.2.3\" is not a number"
        );
        assert_eq!(
            parse_err("  ").0,
            "empty condition (leave `when` out to match every call)"
        );
        assert_eq!(parse_err("caller.tier == €").0, "unexpected character '€'");
        assert_eq!(parse_err("caller.").0, "expected a field name after \".\"");
        assert_eq!(
            parse_err("\"a\\n\"").0,
            "unknown escape: only \\\\, \\\" and \\' are allowed"
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}true{}", "(".repeat(40), ")".repeat(40));
        assert_eq!(parse_err(&deep).0, "nested more than 32 deep");
        let nots = format!("{}true", "not ".repeat(40));
        assert_eq!(parse_err(&nots).0, "nested more than 32 deep");
        assert!(parse(&format!("{}true{}", "(".repeat(30), ")".repeat(30))).is_ok());
    }

    #[test]
    fn overlong_text_is_refused_before_parsing() {
        let long = "caller.known or ".repeat(300) + "true";
        assert_eq!(parse_err(&long).0, "longer than 4096 characters");
    }
}
