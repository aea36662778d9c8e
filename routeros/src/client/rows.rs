//! What a command returns: `!re` rows and `!trap`s, with values kept as bytes.
//!
//! Why: RouterOS does not promise UTF-8, so values stay raw and become text only on request
//! (lossily); attribute names are ASCII in practice and are stored as `String`.

use std::borrow::Cow;

use crate::codec::Reply;

/// One `!re` row: attribute name → raw value bytes, in wire order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    /// `(name, value)` pairs as received.
    pub attributes: Vec<(String, Vec<u8>)>,
}

impl Row {
    /// The raw value of attribute `k`.
    pub fn get(&self, k: &str) -> Option<&[u8]> {
        self.attributes
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.as_slice())
    }

    /// The value of attribute `k` as text (invalid UTF-8 replaced).
    pub fn text(&self, k: &str) -> Option<Cow<'_, str>> {
        self.get(k).map(String::from_utf8_lossy)
    }

    pub(super) fn from_reply(reply: Reply) -> Self {
        let attributes = reply
            .attributes
            .into_iter()
            .map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v))
            .collect();
        Self { attributes }
    }
}

/// One `!trap` of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trap {
    /// `=category=` (0 missing item, 1 bad argument, 2 interrupted, …) when present.
    pub category: Option<u32>,
    /// `=message=`.
    pub message: String,
}

impl Trap {
    pub(super) fn from_reply(reply: &Reply) -> Self {
        let text = |k| reply.get(k).map(String::from_utf8_lossy);
        Self {
            category: text("category").and_then(|c| c.trim().parse().ok()),
            message: text("message").map(Cow::into_owned).unwrap_or_default(),
        }
    }
}

pub(super) fn join_traps(traps: &[Trap]) -> String {
    let messages: Vec<&str> = traps.iter().map(|t| t.message.as_str()).collect();
    messages.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_traps_from_replies() {
        let row = Row::from_reply(Reply::re().attr("name", "ether1").attr("bad", [0xFF]));
        assert_eq!(row.get("name"), Some(&b"ether1"[..]));
        assert_eq!(row.text("bad").as_deref(), Some("\u{FFFD}"));
        assert_eq!(row.get("missing"), None);
        let cases = [
            (Reply::trap("interrupted").attr("category", "2"), Some(2)),
            (Reply::trap("no such command prefix"), None),
            (Reply::trap("x").attr("category", "many"), None),
        ];
        for (reply, category) in cases {
            assert_eq!(Trap::from_reply(&reply).category, category);
        }
    }
}
