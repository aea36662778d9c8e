//! The `?` query words of `print`/`listen`: RouterOS's boolean stack machine (reference §1.4).
//!
//! Each item is evaluated word by word, left to right, on a stack that initially holds
//! infinitely many `true` (popping an empty stack yields `true`). The item matches iff no
//! `false` remains after the last word. Property words push one boolean:
//!
//! | word        | pushes                                    |
//! |-------------|-------------------------------------------|
//! | `?name`     | item has `name`                           |
//! | `?-name`    | item lacks `name`                         |
//! | `?name=x`, `?=name=x` | `value(name) == x`              |
//! | `?<name=x`  | `value(name) < x`                         |
//! | `?>name=x`  | `value(name) > x` (`?>comment=`: non-empty) |
//!
//! `?#ops` runs stack operations, character by character: a run of digits is an index
//! (0 = top) — followed by another character it pushes a copy of that element, at the end of
//! the word it replaces the whole stack by that element; `!` negates the top; `&` and `|` pop
//! two and push their AND/OR; `.` right after an index is a no-op, elsewhere it pushes a copy
//! of the top. Comparisons are numeric when both sides are integers, else byte-wise. A missing
//! property compares unequal (and neither less nor greater), except that `?name=` (empty value)
//! also matches items without `name`, as the console prints an unset property as empty.

use crate::item::Item;

/// A query word the router would refuse.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub(crate) enum QueryError {
    #[error("invalid query word ?{0}")]
    Invalid(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Word {
    Has(String),
    Lacks(String),
    Equal(String, String),
    Less(String, String),
    Greater(String, String),
    Ops(Vec<Op>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    PushCopy(usize),
    ReplaceBy(usize),
    Not,
    And,
    Or,
    DupTop,
}

/// A parsed query: evaluate with [`Query::matches`]. The empty query matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Query {
    words: Vec<Word>,
}

impl Query {
    /// Parses query words given without their leading `?`.
    pub(crate) fn parse(words: &[Vec<u8>]) -> Result<Query, QueryError> {
        let words = words
            .iter()
            .map(|w| parse_word(&String::from_utf8_lossy(w)))
            .collect::<Result<_, _>>()?;
        Ok(Query { words })
    }

    pub(crate) fn matches(&self, item: &Item) -> bool {
        let mut stack = Stack::default();
        for word in &self.words {
            match word {
                Word::Has(name) => stack.push(item.get(name).is_some()),
                Word::Lacks(name) => stack.push(item.get(name).is_none()),
                Word::Equal(name, value) => stack.push(match item.get(name) {
                    Some(actual) => actual == value,
                    None => value.is_empty(),
                }),
                Word::Less(name, value) => {
                    stack.push(compare(item, name, value).is_some_and(|o| o.is_lt()))
                }
                Word::Greater(name, value) => {
                    stack.push(compare(item, name, value).is_some_and(|o| o.is_gt()))
                }
                Word::Ops(ops) => ops.iter().for_each(|op| stack.apply(*op)),
            }
        }
        stack.all_true()
    }
}

fn parse_word(word: &str) -> Result<Word, QueryError> {
    let invalid = || QueryError::Invalid(word.to_string());
    let name_value = |rest: &str| -> Result<(String, String), QueryError> {
        let (name, value) = rest.split_once('=').ok_or_else(invalid)?;
        if name.is_empty() {
            Err(invalid())
        } else {
            Ok((name.to_string(), value.to_string()))
        }
    };
    let parsed = match word.chars().next() {
        None => return Err(invalid()),
        Some('#') => Word::Ops(parse_ops(&word[1..]).ok_or_else(invalid)?),
        Some('-') if word.len() > 1 => Word::Lacks(word[1..].to_string()),
        Some('=') => name_value(&word[1..]).map(|(n, v)| Word::Equal(n, v))?,
        Some('<') => name_value(&word[1..]).map(|(n, v)| Word::Less(n, v))?,
        Some('>') => name_value(&word[1..]).map(|(n, v)| Word::Greater(n, v))?,
        Some(_) if word.contains('=') => name_value(word).map(|(n, v)| Word::Equal(n, v))?,
        Some(_) => Word::Has(word.to_string()),
    };
    Ok(parsed)
}

/// Parses the characters after `#`; `None` for anything outside digits and `!&|.`.
fn parse_ops(text: &str) -> Option<Vec<Op>> {
    let mut ops = Vec::new();
    let mut index: Option<usize> = None;
    for c in text.chars() {
        if let Some(digit) = c.to_digit(10) {
            let so_far = index.unwrap_or(0);
            index = Some(so_far.checked_mul(10)?.checked_add(digit as usize)?);
            continue;
        }
        let after_index = index.take().map(|i| ops.push(Op::PushCopy(i))).is_some();
        match c {
            '!' => ops.push(Op::Not),
            '&' => ops.push(Op::And),
            '|' => ops.push(Op::Or),
            '.' if after_index => {}
            '.' => ops.push(Op::DupTop),
            _ => return None,
        }
    }
    if let Some(i) = index {
        ops.push(Op::ReplaceBy(i));
    }
    Some(ops)
}

fn compare(item: &Item, name: &str, value: &str) -> Option<std::cmp::Ordering> {
    let actual = item.get(name)?;
    match (actual.parse::<i128>(), value.parse::<i128>()) {
        (Ok(a), Ok(b)) => Some(a.cmp(&b)),
        _ => Some(actual.as_bytes().cmp(value.as_bytes())),
    }
}

/// The boolean stack; below the stored elements lie infinitely many `true`.
#[derive(Debug, Default)]
struct Stack {
    /// Bottom first; the top is the last element.
    elements: Vec<bool>,
}

impl Stack {
    fn push(&mut self, value: bool) {
        self.elements.push(value);
    }

    fn pop(&mut self) -> bool {
        self.elements.pop().unwrap_or(true)
    }

    /// Element `index` counted from the top (0 = top).
    fn peek(&self, index: usize) -> bool {
        let len = self.elements.len();
        if index < len {
            self.elements[len - 1 - index]
        } else {
            true
        }
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::PushCopy(i) => self.push(self.peek(i)),
            Op::ReplaceBy(i) => self.elements = vec![self.peek(i)],
            Op::Not => {
                let top = self.pop();
                self.push(!top);
            }
            Op::And => {
                let (a, b) = (self.pop(), self.pop());
                self.push(a && b);
            }
            Op::Or => {
                let (a, b) = (self.pop(), self.pop());
                self.push(a || b);
            }
            Op::DupTop => self.push(self.peek(0)),
        }
    }

    fn all_true(&self) -> bool {
        self.elements.iter().all(|v| *v)
    }
}

#[cfg(test)]
mod tests;
