//! Formulas of derived indicators over other indicators, e.g.
//! `#{0101} / #{x-pop-total} * 100` or `POP_DTTS / POP_TOTAL * 100`.
//!
//! An operand is a number, a bare code (`POP_TOTAL`: letters, digits, `_`, not starting
//! with a digit) or any code in braces (`#{0101}`, `#{x-pop-total}`). Operators: `+ - * /`,
//! unary minus, parentheses. Derived indicators are evaluated *after* aggregation.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Num(f64),
    Ref(String),
    Neg(Box<Expr>),
    Bin(Box<Expr>, Op, Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("formula error at character {position}: {message}")]
pub struct ParseError {
    /// 1-based character position in the formula.
    pub position: usize,
    pub message: String,
}

/// Why a formula gave no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoValue {
    /// An operand has no value.
    Missing(String),
    /// Division by zero (the divisor's expression is given).
    DivisionByZero,
}

impl fmt::Display for NoValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoValue::Missing(c) => write!(f, "no value for {c}"),
            NoValue::DivisionByZero => write!(f, "division by zero"),
        }
    }
}

/// The longest formula accepted, in characters, and the deepest nesting of parentheses and
/// minus signs. Parsing, evaluating and dropping a formula recurse over its tree: these bounds
/// keep that well inside a thread's stack whatever a client sends (a formula of a few hundred
/// thousand `(` or `-` would otherwise overflow the stack and abort the whole server).
pub const MAX_CHARS: usize = 1000;
pub const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    chars: Vec<(usize, char)>,
    pos: usize,
    src: &'a str,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn peek(&mut self) -> Option<char> {
        while let Some((_, c)) = self.chars.get(self.pos) {
            if c.is_whitespace() {
                self.pos += 1;
            } else {
                return Some(*c);
            }
        }
        None
    }
    fn err(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            position: self.pos + 1,
            message: message.into(),
        }
    }
    fn expr(&mut self) -> Result<Expr, ParseError> {
        let mut lhs = self.term()?;
        while let Some(c @ ('+' | '-')) = self.peek() {
            self.pos += 1;
            let rhs = self.term()?;
            let op = if c == '+' { Op::Add } else { Op::Sub };
            lhs = Expr::Bin(Box::new(lhs), op, Box::new(rhs));
        }
        Ok(lhs)
    }
    fn term(&mut self) -> Result<Expr, ParseError> {
        let mut lhs = self.factor()?;
        while let Some(c @ ('*' | '/')) = self.peek() {
            self.pos += 1;
            let rhs = self.factor()?;
            let op = if c == '*' { Op::Mul } else { Op::Div };
            lhs = Expr::Bin(Box::new(lhs), op, Box::new(rhs));
        }
        Ok(lhs)
    }
    /// One level deeper into parentheses or minus signs.
    fn deeper(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(format!(
                "parentheses and minus signs nested more than {MAX_DEPTH} deep"
            )));
        }
        Ok(())
    }
    fn factor(&mut self) -> Result<Expr, ParseError> {
        match self.peek() {
            None => Err(self.err("unexpected end of formula")),
            Some('-') => {
                self.pos += 1;
                self.deeper()?;
                let e = Expr::Neg(Box::new(self.factor()?));
                self.depth -= 1;
                Ok(e)
            }
            Some('(') => {
                self.pos += 1;
                self.deeper()?;
                let e = self.expr()?;
                if self.peek() != Some(')') {
                    return Err(self.err("expected `)`"));
                }
                self.pos += 1;
                self.depth -= 1;
                Ok(e)
            }
            Some('#') => {
                self.pos += 1;
                if self.chars.get(self.pos).map(|c| c.1) != Some('{') {
                    return Err(self.err("expected `{` after `#`"));
                }
                self.pos += 1;
                let start = self.pos;
                while let Some((_, c)) = self.chars.get(self.pos) {
                    if *c == '}' {
                        break;
                    }
                    self.pos += 1;
                }
                if self.pos >= self.chars.len() {
                    return Err(self.err("missing `}`"));
                }
                let code: String = self.chars[start..self.pos].iter().map(|c| c.1).collect();
                self.pos += 1;
                let code = code.trim().to_string();
                crate::indicator::check_code(&code).map_err(|e| self.err(e))?;
                Ok(Expr::Ref(code))
            }
            Some(c) if c.is_ascii_digit() || c == '.' => {
                let start = self.pos;
                while let Some((_, c)) = self.chars.get(self.pos) {
                    if c.is_ascii_digit() || *c == '.' {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                let s: String = self.chars[start..self.pos].iter().map(|c| c.1).collect();
                s.parse::<f64>()
                    .map(Expr::Num)
                    .map_err(|_| self.err(format!("bad number {s:?}")))
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let start = self.pos;
                while let Some((_, c)) = self.chars.get(self.pos) {
                    if c.is_ascii_alphanumeric() || *c == '_' {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                Ok(Expr::Ref(
                    self.chars[start..self.pos].iter().map(|c| c.1).collect(),
                ))
            }
            Some(c) => Err(self.err(format!(
                "unexpected {c:?} in {:?}; write codes with other characters as #{{code}}",
                self.src
            ))),
        }
    }
}

impl Expr {
    pub fn parse(src: &str) -> Result<Expr, ParseError> {
        if src.chars().nth(MAX_CHARS).is_some() {
            return Err(ParseError {
                position: MAX_CHARS + 1,
                message: format!("a formula has at most {MAX_CHARS} characters"),
            });
        }
        let mut p = Parser {
            chars: src.char_indices().collect(),
            pos: 0,
            src,
            depth: 0,
        };
        let e = p.expr()?;
        if p.peek().is_some() {
            return Err(p.err("unexpected text after the end of the formula"));
        }
        Ok(e)
    }

    /// Codes the formula refers to, each once, in order of appearance.
    pub fn references(&self) -> Vec<String> {
        fn walk(e: &Expr, out: &mut Vec<String>) {
            match e {
                Expr::Num(_) => {}
                Expr::Ref(c) => {
                    if !out.contains(c) {
                        out.push(c.clone())
                    }
                }
                Expr::Neg(e) => walk(e, out),
                Expr::Bin(a, _, b) => {
                    walk(a, out);
                    walk(b, out);
                }
            }
        }
        let mut out = vec![];
        walk(self, &mut out);
        out
    }

    /// Evaluate with the value of each referenced code.
    pub fn eval(&self, value: &dyn Fn(&str) -> Option<f64>) -> Result<f64, NoValue> {
        match self {
            Expr::Num(n) => Ok(*n),
            Expr::Ref(c) => value(c).ok_or_else(|| NoValue::Missing(c.clone())),
            Expr::Neg(e) => Ok(-e.eval(value)?),
            Expr::Bin(a, op, b) => {
                let (x, y) = (a.eval(value)?, b.eval(value)?);
                Ok(match op {
                    Op::Add => x + y,
                    Op::Sub => x - y,
                    Op::Mul => x * y,
                    Op::Div => {
                        if y == 0.0 {
                            return Err(NoValue::DivisionByZero);
                        }
                        x / y
                    }
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(c: &str) -> Option<f64> {
        match c {
            "POP_DTTS" => Some(25.0),
            "POP_TOTAL" => Some(200.0),
            "0101" => Some(50.0),
            "x-zero" => Some(0.0),
            _ => None,
        }
    }

    #[test]
    fn evaluates_ratio() {
        let e = Expr::parse("POP_DTTS / POP_TOTAL * 100").unwrap();
        assert_eq!(e.eval(&env), Ok(12.5));
        assert_eq!(e.references(), vec!["POP_DTTS", "POP_TOTAL"]);
        let e = Expr::parse("#{0101} / #{ POP_TOTAL } * 100").unwrap();
        assert_eq!(e.eval(&env), Ok(25.0));
        assert_eq!(
            Expr::parse("-(1 + 2) * 3 - 4 / 2").unwrap().eval(&env),
            Ok(-11.0)
        );
    }

    #[test]
    fn reports_missing_and_zero() {
        assert_eq!(
            Expr::parse("#{0101} / #{x-zero}").unwrap().eval(&env),
            Err(NoValue::DivisionByZero)
        );
        assert_eq!(
            Expr::parse("NOPE + 1").unwrap().eval(&env),
            Err(NoValue::Missing("NOPE".into()))
        );
    }

    #[test]
    fn parse_errors_have_positions() {
        let e = Expr::parse("POP_DTTS / ").unwrap_err();
        assert_eq!(e.position, 12);
        assert!(Expr::parse("(1 + 2").is_err());
        // A bare code with dashes reads as a subtraction: such codes must be braced.
        assert_eq!(
            Expr::parse("x-pop / 2").unwrap().references(),
            vec!["x", "pop"]
        );
        assert!(Expr::parse("1 $ 2").is_err());
        assert!(Expr::parse("#{unterminated").is_err());
        assert!(Expr::parse("1 2").is_err());
    }

    #[test]
    fn size_and_nesting_are_bounded() {
        // found by fuzzing: such formulas overflowed the stack (aborting the server)
        let deep = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(Expr::parse(&deep).unwrap_err().message.contains("at most"));
        assert!(Expr::parse(&"-".repeat(500_000)).is_err());
        let nested = format!(
            "{}1{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        assert!(Expr::parse(&nested).unwrap_err().message.contains("nested"));
        let minus = format!("{}1", "-".repeat(MAX_DEPTH + 1));
        assert!(Expr::parse(&minus).unwrap_err().message.contains("nested"));
        let ok = format!(
            "{}1{}",
            "(-".repeat(MAX_DEPTH / 2),
            ")".repeat(MAX_DEPTH / 2)
        );
        assert_eq!(Expr::parse(&ok).unwrap().eval(&env), Ok(1.0));
        // the longest chain accepted evaluates (and drops) without trouble, even on a small stack
        let chain = format!("1{}", "+1".repeat((MAX_CHARS - 1) / 2));
        let r = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(move || Expr::parse(&chain).unwrap().eval(&env))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(r, Ok(((MAX_CHARS - 1) / 2 + 1) as f64));
    }
}
