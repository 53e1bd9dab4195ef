//! SpamAssassin meta rules: expressions over other rules' values, evaluated with Perl's value
//! semantics (SpamAssassin evaluates them as Perl): a rule's value is its hit count, eval
//! result or meta value (0 when it did not hit or never ran); `&&` and `||` return an
//! operand's value, `!` gives 1 or 0, comparisons 1 or 0, and `+ - * /` are arithmetic.

/// A compiled expression over rule indexes.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Num(f64),
    Rule(usize),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Bin(Op, Box<Expr>, Box<Expr>),
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Or,
    And,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    Add,
    Sub,
    Mul,
    Div,
    Xor,
}

impl Expr {
    /// Evaluates with `value(rule)`.
    pub fn eval(&self, value: &dyn Fn(usize) -> f64) -> f64 {
        match self {
            Expr::Num(n) => *n,
            Expr::Rule(i) => value(*i),
            Expr::Not(e) => f64::from(u8::from(e.eval(value) == 0.0)),
            Expr::Neg(e) => -e.eval(value),
            Expr::Cond(c, a, b) => {
                if c.eval(value) != 0.0 {
                    a.eval(value)
                } else {
                    b.eval(value)
                }
            }
            Expr::Bin(op, l, r) => {
                let a = l.eval(value);
                match op {
                    Op::Or => {
                        if a != 0.0 {
                            a
                        } else {
                            r.eval(value)
                        }
                    }
                    Op::And => {
                        if a != 0.0 {
                            r.eval(value)
                        } else {
                            a
                        }
                    }
                    _ => {
                        let b = r.eval(value);
                        let t = |x: bool| f64::from(u8::from(x));
                        match op {
                            Op::Lt => t(a < b),
                            Op::Le => t(a <= b),
                            Op::Gt => t(a > b),
                            Op::Ge => t(a >= b),
                            Op::Eq => t(a == b),
                            Op::Ne => t(a != b),
                            Op::Add => a + b,
                            Op::Sub => a - b,
                            Op::Mul => a * b,
                            Op::Div => {
                                if b == 0.0 {
                                    0.0
                                } else {
                                    a / b
                                }
                            }
                            Op::Xor => ((a as i64) ^ (b as i64)) as f64,
                            Op::Or | Op::And => unreachable!(),
                        }
                    }
                }
            }
        }
    }

    /// The rules the expression reads.
    pub fn rules(&self, out: &mut Vec<usize>) {
        match self {
            Expr::Num(_) => {}
            Expr::Rule(i) => out.push(*i),
            Expr::Not(e) | Expr::Neg(e) => e.rules(out),
            Expr::Bin(_, l, r) => {
                l.rules(out);
                r.rules(out);
            }
            Expr::Cond(c, a, b) => {
                c.rules(out);
                a.rules(out);
                b.rules(out);
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Num(f64),
    Op(&'static str),
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    const OPS: &[&str] = &[
        "||", "&&", ">=", "<=", "==", "!=", "(", ")", "!", "+", "-", "*", "/", ">", "<", "?", ":",
        "^",
    ];
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            let st = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            out.push(Tok::Num(
                s[st..i]
                    .parse()
                    .map_err(|_| format!("bad number {}", &s[st..i]))?,
            ));
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let st = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Name(s[st..i].to_string()));
            continue;
        }
        match OPS.iter().find(|o| s[i..].starts_with(**o)) {
            Some(o) => {
                out.push(Tok::Op(o));
                i += o.len();
            }
            None => return Err(format!("unexpected `{}`", char::from(c))),
        }
    }
    Ok(out)
}

/// The rule names an expression refers to (empty when it does not lex: such a meta never
/// hits, so it needs nothing).
pub fn names(s: &str) -> Vec<String> {
    lex(s)
        .map(|toks| {
            toks.into_iter()
                .filter_map(|t| match t {
                    Tok::Name(n) => Some(n),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Parses a meta expression; `resolve` maps a rule name to its index (`None`: an unknown
/// name, which is 0 as in SpamAssassin).
pub fn parse(s: &str, resolve: &dyn Fn(&str) -> Option<usize>) -> Result<Expr, String> {
    let toks = lex(s)?;
    let mut p = Parser {
        toks,
        i: 0,
        resolve,
    };
    let e = p.cond()?;
    if p.i != p.toks.len() {
        return Err(format!("trailing tokens in `{s}`"));
    }
    Ok(e)
}

struct Parser<'a> {
    toks: Vec<Tok>,
    i: usize,
    resolve: &'a dyn Fn(&str) -> Option<usize>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i)
    }

    fn eat(&mut self, op: &str) -> bool {
        if self.peek()
            == Some(&Tok::Op(match op {
                "||" => "||",
                "&&" => "&&",
                ">=" => ">=",
                "<=" => "<=",
                "==" => "==",
                "!=" => "!=",
                "(" => "(",
                ")" => ")",
                "!" => "!",
                "+" => "+",
                "-" => "-",
                "*" => "*",
                "/" => "/",
                ">" => ">",
                "<" => "<",
                "?" => "?",
                ":" => ":",
                "^" => "^",
                _ => return false,
            }))
        {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn cond(&mut self) -> Result<Expr, String> {
        let c = self.or()?;
        if self.eat("?") {
            let a = self.cond()?;
            if !self.eat(":") {
                return Err("`?` without `:`".into());
            }
            let b = self.cond()?;
            return Ok(Expr::Cond(Box::new(c), Box::new(a), Box::new(b)));
        }
        Ok(c)
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut l = self.and()?;
        while self.eat("||") {
            let r = self.and()?;
            l = Expr::Bin(Op::Or, Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut l = self.xor()?;
        while self.eat("&&") {
            let r = self.xor()?;
            l = Expr::Bin(Op::And, Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn xor(&mut self) -> Result<Expr, String> {
        let mut l = self.equality()?;
        while self.eat("^") {
            let r = self.equality()?;
            l = Expr::Bin(Op::Xor, Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn equality(&mut self) -> Result<Expr, String> {
        let mut l = self.relation()?;
        loop {
            let op = if self.eat("==") {
                Op::Eq
            } else if self.eat("!=") {
                Op::Ne
            } else {
                return Ok(l);
            };
            let r = self.relation()?;
            l = Expr::Bin(op, Box::new(l), Box::new(r));
        }
    }

    fn relation(&mut self) -> Result<Expr, String> {
        let mut l = self.additive()?;
        loop {
            let op = if self.eat(">=") {
                Op::Ge
            } else if self.eat("<=") {
                Op::Le
            } else if self.eat(">") {
                Op::Gt
            } else if self.eat("<") {
                Op::Lt
            } else {
                return Ok(l);
            };
            let r = self.additive()?;
            l = Expr::Bin(op, Box::new(l), Box::new(r));
        }
    }

    fn additive(&mut self) -> Result<Expr, String> {
        let mut l = self.multiplicative()?;
        loop {
            let op = if self.eat("+") {
                Op::Add
            } else if self.eat("-") {
                Op::Sub
            } else {
                return Ok(l);
            };
            let r = self.multiplicative()?;
            l = Expr::Bin(op, Box::new(l), Box::new(r));
        }
    }

    fn multiplicative(&mut self) -> Result<Expr, String> {
        let mut l = self.unary()?;
        loop {
            let op = if self.eat("*") {
                Op::Mul
            } else if self.eat("/") {
                Op::Div
            } else {
                return Ok(l);
            };
            let r = self.unary()?;
            l = Expr::Bin(op, Box::new(l), Box::new(r));
        }
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat("!") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.eat("-") {
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        if self.eat("+") {
            return self.unary();
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Expr, String> {
        if self.eat("(") {
            let e = self.cond()?;
            if !self.eat(")") {
                return Err("missing `)`".into());
            }
            return Ok(e);
        }
        match self.toks.get(self.i).cloned() {
            Some(Tok::Num(n)) => {
                self.i += 1;
                Ok(Expr::Num(n))
            }
            Some(Tok::Name(n)) => {
                self.i += 1;
                if n == "local_tests_only" {
                    return Ok(Expr::Num(1.0));
                }
                Ok(match (self.resolve)(&n) {
                    Some(i) => Expr::Rule(i),
                    None => Expr::Num(0.0),
                })
            }
            other => Err(format!("unexpected {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perl_value_semantics() {
        let names = ["A", "B", "C"];
        let resolve = |n: &str| names.iter().position(|x| *x == n);
        let vals = [3.0, 0.0, 2.0];
        let v = |i: usize| vals[i];
        let e = |s: &str| parse(s, &resolve).expect("parses").eval(&v);
        assert_eq!(e("A && C"), 2.0, "&& gives the right operand's value");
        assert_eq!(e("B || A"), 3.0);
        assert_eq!(e("!B"), 1.0);
        assert_eq!(e("!A"), 0.0);
        assert_eq!(e("(A + B + C) > 4"), 1.0);
        assert_eq!(e("A + C * 2"), 7.0);
        assert_eq!(e("UNKNOWN || B"), 0.0);
        assert_eq!(e("A - 1 >= 2 && !B"), 1.0);
        assert_eq!(e("A ? C : B"), 2.0);
        assert!(parse("A &&", &resolve).is_err());
    }
}
