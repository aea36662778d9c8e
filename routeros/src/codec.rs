//! Sans-IO framing of the RouterOS API (protocol reference §1.2–§1.6).
//!
//! Why sans-IO: the same code serves the async client, the simulator and the tests, and a
//! decoder that only sees byte slices can be fed in any chunking (one byte at a time, many
//! sentences per read) and fuzzed with property tests without a socket.
//!
//! Layers, bottom up:
//! - [`encode_length`] / [`decode_length`]: the 1–5 byte word length prefix.
//! - [`Sentence`] / [`Decoder`]: words terminated by an empty word; the decoder is incremental
//!   and skips empty sentences.
//! - [`Request`] / [`Reply`]: what a sentence means — a command with attributes, queries and a
//!   `.tag`, or a reply (`!re`, `!done`, `!trap`, `!empty`, `!fatal`) with its attributes.
//!
//! Words and values stay bytes: RouterOS does not promise UTF-8.
//!
//! This file is the documented exception to the ~400 line habit: the framing state machine and
//! its table-driven tests belong together.

/// Errors of framing and parsing.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecError {
    /// First byte of a length prefix in `F8..=FF`: reserved, the stream cannot be framed.
    #[error("reserved control byte 0x{0:02X} where a word length was expected")]
    ControlByte(u8),
    /// A word announced a length above the decoder's limit.
    #[error("word of {len} bytes exceeds the limit of {max}")]
    WordTooLong { len: u64, max: u64 },
    /// A sentence grew past the decoder's word-count limit.
    #[error("sentence has more than {0} words")]
    TooManyWords(usize),
    /// The words frame correctly but do not form a valid command or reply.
    #[error("malformed sentence: {0}")]
    Malformed(String),
}

/// Default limit of one word's length for [`Decoder::new`]: 16 MiB.
pub const DEFAULT_MAX_WORD: u32 = 16 * 1024 * 1024;
/// Default limit of words per sentence for [`Decoder::new`].
pub const DEFAULT_MAX_WORDS: usize = 100_000;

/// Appends the minimal length prefix of `len` (1–5 bytes) to `out`.
pub fn encode_length(len: u32, out: &mut Vec<u8>) {
    let bytes = len.to_be_bytes();
    match len {
        0..=0x7F => out.push(bytes[3]),
        0x80..=0x3FFF => out.extend_from_slice(&(len | 0x8000).to_be_bytes()[2..]),
        0x4000..=0x1F_FFFF => out.extend_from_slice(&(len | 0xC0_0000).to_be_bytes()[1..]),
        0x20_0000..=0x0FFF_FFFF => out.extend_from_slice(&(len | 0xE000_0000).to_be_bytes()),
        _ => {
            out.push(0xF0);
            out.extend_from_slice(&bytes);
        }
    }
}

/// Decodes a length prefix at the start of `buf`: `Ok(None)` = need more bytes,
/// `Ok(Some((len, prefix_size)))`, `Err(ControlByte)` for a first byte in `F8..=FF`.
/// Non-minimal encodings are accepted.
pub fn decode_length(buf: &[u8]) -> Result<Option<(u32, usize)>, CodecError> {
    let Some(&b0) = buf.first() else {
        return Ok(None);
    };
    let (size, high) = match b0 {
        0x00..=0x7F => return Ok(Some((u32::from(b0), 1))),
        0x80..=0xBF => (2, u32::from(b0 & 0x3F)),
        0xC0..=0xDF => (3, u32::from(b0 & 0x1F)),
        0xE0..=0xEF => (4, u32::from(b0 & 0x0F)),
        // The low three bits of the five-byte form are ignored, as the reference decoder does.
        0xF0..=0xF7 => (5, 0),
        _ => return Err(CodecError::ControlByte(b0)),
    };
    let Some(rest) = buf.get(1..size) else {
        return Ok(None);
    };
    let len = rest.iter().fold(high, |acc, &b| (acc << 8) | u32::from(b));
    Ok(Some((len, size)))
}

/// A sentence: its words in order (the terminating empty word is implicit).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sentence {
    /// The words, without length prefixes and without the terminating empty word.
    pub words: Vec<Vec<u8>>,
}

impl Sentence {
    /// An empty sentence, to be filled with [`Sentence::word`] or [`Sentence::push`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Builder form of [`Sentence::push`].
    pub fn word(mut self, w: impl AsRef<[u8]>) -> Self {
        self.push(w);
        self
    }

    /// Appends one word.
    pub fn push(&mut self, w: impl AsRef<[u8]>) {
        self.words.push(w.as_ref().to_vec());
    }

    /// Appends the wire form (each word with its length prefix, then `0x00`) to `out`.
    ///
    /// The protocol cannot express a word longer than `u32::MAX` bytes; such a word is cut to
    /// that length so the framing stays consistent (callers that care check sizes first).
    pub fn encode(&self, out: &mut Vec<u8>) {
        for word in &self.words {
            let len = u32::try_from(word.len()).unwrap_or(u32::MAX);
            encode_length(len, out);
            out.extend_from_slice(word.get(..len as usize).unwrap_or(word));
        }
        out.push(0);
    }

    /// The wire form as a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.words.iter().map(|w| w.len() + 2).sum::<usize>() + 1);
        self.encode(&mut out);
        out
    }
}

/// Incremental decoder: feed bytes, take sentences. Empty sentences (a lone `0x00`) are skipped.
///
/// Complete words of the sentence being read are moved out of the buffer as soon as they
/// arrive, so a long word split across many feeds is never rescanned from the start.
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    /// Start of the unread part of `buf`; the consumed prefix is dropped lazily.
    pos: usize,
    /// Words of the sentence in progress.
    words: Vec<Vec<u8>>,
    max_word: u32,
    max_words: usize,
    /// Set by the first error; the stream cannot be re-synchronised afterwards.
    failed: Option<CodecError>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder with the default limits: words up to 16 MiB, 100 000 words per sentence.
    pub fn new() -> Self {
        Self::with_limits(DEFAULT_MAX_WORD, DEFAULT_MAX_WORDS)
    }

    /// A decoder with explicit limits on one word's length and on words per sentence.
    pub fn with_limits(max_word: u32, max_words: usize) -> Self {
        Self {
            buf: Vec::new(),
            pos: 0,
            words: Vec::new(),
            max_word,
            max_words,
            failed: None,
        }
    }

    /// Appends received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        // Drop the consumed prefix once it is at least half the buffer: amortised O(1) per byte.
        if self.pos > 0 && self.pos * 2 >= self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received but not yet returned as part of a sentence (excluding complete words of
    /// the sentence in progress).
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// `true` when no partial sentence is pending (a clean place for the stream to end).
    pub fn is_idle(&self) -> bool {
        self.words.is_empty() && self.buffered() == 0
    }

    /// The next complete, non-empty sentence. `Ok(None)` = need more input.
    /// After an `Err` the stream is unusable and every later call returns the same error.
    pub fn next_sentence(&mut self) -> Result<Option<Sentence>, CodecError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        match self.read_sentence() {
            Err(error) => {
                self.failed = Some(error.clone());
                Err(error)
            }
            ok => ok,
        }
    }

    fn read_sentence(&mut self) -> Result<Option<Sentence>, CodecError> {
        loop {
            let unread = &self.buf[self.pos..];
            let Some((len, prefix)) = decode_length(unread)? else {
                return Ok(None);
            };
            if len == 0 {
                self.pos += prefix;
                if self.words.is_empty() {
                    continue; // an empty sentence: ignored in both directions (§1.3)
                }
                let words = std::mem::take(&mut self.words);
                return Ok(Some(Sentence { words }));
            }
            let too_long = CodecError::WordTooLong {
                len: u64::from(len),
                max: u64::from(self.max_word),
            };
            if len > self.max_word {
                return Err(too_long);
            }
            if self.words.len() >= self.max_words {
                return Err(CodecError::TooManyWords(self.max_words));
            }
            // Checked so that a huge limit on a small target cannot overflow.
            let end = usize::try_from(len)
                .ok()
                .and_then(|len| len.checked_add(prefix))
                .ok_or(too_long)?;
            let Some(word) = unread.get(prefix..end) else {
                return Ok(None);
            };
            self.words.push(word.to_vec());
            self.pos += end;
        }
    }
}

/// An attribute word split: `=name=value` → (`name`, `value`), the value keeps further `=`;
/// `=only-key` → (`only-key`, empty). Returns `None` for words not starting with `=`.
pub fn split_attribute(word: &[u8]) -> Option<(&[u8], &[u8])> {
    let rest = word.strip_prefix(b"=")?;
    match rest.iter().position(|&b| b == b'=') {
        Some(i) => Some((&rest[..i], &rest[i + 1..])),
        None => Some((rest, &[])),
    }
}

const TAG_PREFIX: &[u8] = b".tag=";

/// `.tag=T` → `Some(Some(T))` (`Some(None)` for an empty tag); `None` if not a tag word.
fn split_tag(word: &[u8]) -> Option<Option<Vec<u8>>> {
    let tag = word.strip_prefix(TAG_PREFIX)?;
    Some((!tag.is_empty()).then(|| tag.to_vec()))
}

fn attribute_word(k: &[u8], v: &[u8]) -> Vec<u8> {
    let mut w = Vec::with_capacity(k.len() + v.len() + 2);
    w.push(b'=');
    w.extend_from_slice(k);
    w.push(b'=');
    w.extend_from_slice(v);
    w
}

fn tag_word(tag: &[u8]) -> Vec<u8> {
    [TAG_PREFIX, tag].concat()
}

fn lookup<'a>(attributes: &'a [(Vec<u8>, Vec<u8>)], key: &str) -> Option<&'a [u8]> {
    attributes
        .iter()
        .find(|(k, _)| k == key.as_bytes())
        .map(|(_, v)| v.as_slice())
}

fn malformed(what: &str, word: &[u8]) -> CodecError {
    CodecError::Malformed(format!("{what} `{}`", String::from_utf8_lossy(word)))
}

/// A parsed command (what a client sends; what the simulator receives).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// First word, e.g. `/system/resource/print` (or an API word such as `login`).
    pub command: Vec<u8>,
    /// `=k=v` words in order (including `.proplist`, `.id` …).
    pub attributes: Vec<(Vec<u8>, Vec<u8>)>,
    /// `?…` words without the leading `?`, in order.
    pub queries: Vec<Vec<u8>>,
    /// `.tag=` found anywhere; an empty tag is `None`.
    pub tag: Option<Vec<u8>>,
}

impl Request {
    /// Parses a command sentence. The first word must be non-empty and must not start with
    /// `!`, `=`, `?` or `.`;
    /// every other word must be an attribute (`=`), a query (`?`) or `.tag=`.
    pub fn parse(s: &Sentence) -> Result<Request, CodecError> {
        let (first, rest) = s
            .words
            .split_first()
            .ok_or_else(|| CodecError::Malformed("empty sentence".into()))?;
        // A command word is a path (`/…`) or a bare API word (`login`); the other word kinds
        // (`!`, `=`, `?`, `.`) cannot open a command.
        if first.first().is_none_or(|b| b"!=?.".contains(b)) {
            return Err(malformed("not a command word:", first));
        }
        let mut request = Request::new(first);
        for word in rest {
            if let Some((k, v)) = split_attribute(word) {
                request.attributes.push((k.to_vec(), v.to_vec()));
            } else if let Some(q) = word.strip_prefix(b"?") {
                request.queries.push(q.to_vec());
            } else if let Some(tag) = split_tag(word) {
                request.tag = tag;
            } else {
                return Err(malformed("unexpected word in command:", word));
            }
        }
        Ok(request)
    }

    /// A command without attributes, queries or tag.
    pub fn new(command: impl AsRef<[u8]>) -> Self {
        Self {
            command: command.as_ref().to_vec(),
            attributes: Vec::new(),
            queries: Vec::new(),
            tag: None,
        }
    }

    /// Adds `=k=v` (flags such as `=follow=` take an empty value).
    pub fn attr(mut self, k: impl AsRef<[u8]>, v: impl AsRef<[u8]>) -> Self {
        self.attributes
            .push((k.as_ref().to_vec(), v.as_ref().to_vec()));
        self
    }

    /// Adds a query word, given without its leading `?`.
    pub fn query(mut self, q: impl AsRef<[u8]>) -> Self {
        self.queries.push(q.as_ref().to_vec());
        self
    }

    /// Adds `=.proplist=a,b`.
    pub fn proplist(self, props: &[&str]) -> Self {
        self.attr(".proplist", props.join(","))
    }

    /// Sets the `.tag` (an empty tag means no tag).
    pub fn tag(mut self, t: impl AsRef<[u8]>) -> Self {
        let t = t.as_ref();
        self.tag = (!t.is_empty()).then(|| t.to_vec());
        self
    }

    /// The value of the first attribute named `key`.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        lookup(&self.attributes, key)
    }

    /// Command, attributes, queries (`?`+q), then `.tag=` last (as routeros-api does).
    pub fn to_sentence(&self) -> Sentence {
        let mut words = Vec::with_capacity(2 + self.attributes.len() + self.queries.len());
        words.push(self.command.clone());
        words.extend(self.attributes.iter().map(|(k, v)| attribute_word(k, v)));
        words.extend(self.queries.iter().map(|q| [b"?".as_slice(), q].concat()));
        words.extend(self.tag.as_deref().map(tag_word));
        Sentence { words }
    }
}

/// The five reply words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyKind {
    /// `!re`: one data item.
    Re,
    /// `!done`: the command finished (may carry `=ret=`).
    Done,
    /// `!trap`: an error; still followed by `!done`.
    Trap,
    /// `!empty` (RouterOS ≥ 7.18): no data; followed by `!done`.
    Empty,
    /// `!fatal`: the router closes the connection.
    Fatal,
}

impl ReplyKind {
    /// The wire word, e.g. `!done`.
    pub fn word(self) -> &'static [u8] {
        match self {
            ReplyKind::Re => b"!re",
            ReplyKind::Done => b"!done",
            ReplyKind::Trap => b"!trap",
            ReplyKind::Empty => b"!empty",
            ReplyKind::Fatal => b"!fatal",
        }
    }

    /// The kind of a reply word; `None` for anything else.
    pub fn from_word(word: &[u8]) -> Option<ReplyKind> {
        [
            ReplyKind::Re,
            ReplyKind::Done,
            ReplyKind::Trap,
            ReplyKind::Empty,
            ReplyKind::Fatal,
        ]
        .into_iter()
        .find(|kind| kind.word() == word)
    }
}

/// A parsed reply (what the router sends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Which reply word opened the sentence.
    pub kind: ReplyKind,
    /// `.tag=` found anywhere; an empty tag is `None`.
    pub tag: Option<Vec<u8>>,
    /// `=k=v` words in order; for a trap, `category` and `message` are here too.
    pub attributes: Vec<(Vec<u8>, Vec<u8>)>,
    /// `!fatal`'s bare reason word(s), joined with a space if several.
    pub fatal_reason: Option<Vec<u8>>,
}

impl Reply {
    /// Parses a reply sentence. An unknown `!xxx` word, or a bare word anywhere but in
    /// `!fatal`, is `Malformed`.
    pub fn parse(s: &Sentence) -> Result<Reply, CodecError> {
        let (first, rest) = s
            .words
            .split_first()
            .ok_or_else(|| CodecError::Malformed("empty sentence".into()))?;
        let kind =
            ReplyKind::from_word(first).ok_or_else(|| malformed("unknown reply word", first))?;
        let mut reply = Reply::of(kind);
        for word in rest {
            if let Some((k, v)) = split_attribute(word) {
                reply.attributes.push((k.to_vec(), v.to_vec()));
            } else if let Some(tag) = split_tag(word) {
                reply.tag = tag;
            } else if kind == ReplyKind::Fatal && !word.is_empty() {
                let reason = reply.fatal_reason.get_or_insert_with(Vec::new);
                if !reason.is_empty() {
                    reason.push(b' ');
                }
                reason.extend_from_slice(word);
            } else {
                return Err(malformed("unexpected word in reply:", word));
            }
        }
        Ok(reply)
    }

    fn of(kind: ReplyKind) -> Self {
        Self {
            kind,
            tag: None,
            attributes: Vec::new(),
            fatal_reason: None,
        }
    }

    /// `!re` without attributes.
    pub fn re() -> Self {
        Self::of(ReplyKind::Re)
    }

    /// `!done` without attributes.
    pub fn done() -> Self {
        Self::of(ReplyKind::Done)
    }

    /// `!trap =message=…` (add `category` with [`Reply::attr`] if wanted).
    pub fn trap(message: &str) -> Self {
        Self::of(ReplyKind::Trap).attr("message", message)
    }

    /// `!empty`.
    pub fn empty() -> Self {
        Self::of(ReplyKind::Empty)
    }

    /// `!fatal` with its bare reason word.
    pub fn fatal(reason: &str) -> Self {
        let mut reply = Self::of(ReplyKind::Fatal);
        reply.fatal_reason = Some(reason.as_bytes().to_vec());
        reply
    }

    /// Sets the tag (an empty tag means no tag).
    pub fn with_tag(mut self, tag: Option<&[u8]>) -> Self {
        self.tag = tag.filter(|t| !t.is_empty()).map(<[u8]>::to_vec);
        self
    }

    /// Adds `=k=v`.
    pub fn attr(mut self, k: impl AsRef<[u8]>, v: impl AsRef<[u8]>) -> Self {
        self.attributes
            .push((k.as_ref().to_vec(), v.as_ref().to_vec()));
        self
    }

    /// The value of the first attribute named `key`.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        lookup(&self.attributes, key)
    }

    /// Reply word, then `.tag=` second (as modern RouterOS), then attributes; for `!fatal` the
    /// bare reason word last.
    pub fn to_sentence(&self) -> Sentence {
        let mut words = Vec::with_capacity(3 + self.attributes.len());
        words.push(self.kind.word().to_vec());
        words.extend(self.tag.as_deref().map(tag_word));
        words.extend(self.attributes.iter().map(|(k, v)| attribute_word(k, v)));
        if self.kind == ReplyKind::Fatal {
            words.extend(self.fatal_reason.clone().filter(|r| !r.is_empty()));
        }
        Sentence { words }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).expect("valid hex in test vector")
    }

    /// §1.2 reference table: every row, encode and decode.
    const LENGTH_VECTORS: &[(u32, &str)] = &[
        (0, "00"),
        (1, "01"),
        (57, "39"),
        (127, "7F"),
        (128, "80 80"),
        (130, "80 82"),
        (135, "80 87"),
        (256, "81 00"),
        (300, "81 2C"),
        (7234, "9C 42"),
        (16383, "BF FF"),
        (16384, "C0 40 00"),
        (17000, "C0 42 68"),
        (17185, "C0 43 21"),
        (710459, "CA D7 3B"),
        (2097140, "DF FF F4"),
        (2097151, "DF FF FF"),
        (2097152, "E0 20 00 00"),
        (2805231, "E0 2A CD EF"),
        (95253355, "E5 AD 73 6B"),
        (268435440, "EF FF FF F0"),
        (268435455, "EF FF FF FF"),
        (268435456, "F0 10 00 00 00"),
        (268435584, "F0 10 00 00 80"),
        (4294967295, "F0 FF FF FF FF"),
    ];

    #[test]
    fn length_vectors_encode() {
        for &(len, hex) in LENGTH_VECTORS {
            let mut out = Vec::new();
            encode_length(len, &mut out);
            assert_eq!(out, unhex(hex), "encoding {len}");
        }
    }

    #[test]
    fn length_vectors_decode() {
        for &(len, hex) in LENGTH_VECTORS {
            let bytes = unhex(hex);
            assert_eq!(
                decode_length(&bytes),
                Ok(Some((len, bytes.len()))),
                "decoding {hex}"
            );
            // Trailing bytes are not part of the prefix.
            let mut longer = bytes.clone();
            longer.extend_from_slice(b"abc");
            assert_eq!(decode_length(&longer), Ok(Some((len, bytes.len()))));
        }
    }

    #[test]
    fn control_bytes_are_rejected() {
        for b in 0xF8..=0xFF_u8 {
            assert_eq!(
                decode_length(&[b, 0, 0, 0, 0]),
                Err(CodecError::ControlByte(b))
            );
            let mut decoder = Decoder::new();
            decoder.feed(&[0x05, b'!', b'd', b'o', b'n', b'e', b]);
            assert_eq!(decoder.next_sentence(), Err(CodecError::ControlByte(b)));
            // The stream stays failed.
            decoder.feed(&[0x00]);
            assert_eq!(decoder.next_sentence(), Err(CodecError::ControlByte(b)));
        }
    }

    #[test]
    fn incomplete_prefixes_need_more() {
        for hex in ["", "80", "C0 40", "E0 20 00", "F0 10 00 00", "F0", "EF FF"] {
            assert_eq!(decode_length(&unhex(hex)), Ok(None), "prefix {hex:?}");
            let mut decoder = Decoder::new();
            decoder.feed(&unhex(hex));
            assert_eq!(decoder.next_sentence(), Ok(None), "decoder fed {hex:?}");
        }
    }

    #[test]
    fn non_minimal_prefixes_are_accepted() {
        let cases: &[(&str, u32)] = &[
            ("80 05", 5),
            ("C0 00 05", 5),
            ("E0 00 00 05", 5),
            ("F0 00 00 00 05", 5),
            ("F7 00 00 00 05", 5),
        ];
        for &(hex, len) in cases {
            let bytes = unhex(hex);
            assert_eq!(decode_length(&bytes), Ok(Some((len, bytes.len()))), "{hex}");
        }
    }

    /// §1.2 whole-sentence vectors.
    #[test]
    fn sentence_vectors() {
        let trap_message = "=message=invalid user name or password (6)";
        let mut trap_hex = String::from("05 21 74 72 61 70 2a");
        trap_hex.push_str(&hex::encode(trap_message));
        trap_hex.push_str("00");
        let cases: Vec<(Sentence, String)> = vec![
            (
                Sentence::new()
                    .word("/login")
                    .word("=name=admin")
                    .word("=password=secret"),
                "06 2f 6c 6f 67 69 6e 0b 3d 6e 61 6d 65 3d 61 64 6d 69 6e \
                 10 3d 70 61 73 73 77 6f 72 64 3d 73 65 63 72 65 74 00"
                    .into(),
            ),
            (Sentence::new().word("!done"), "05 21 64 6f 6e 65 00".into()),
            (Sentence::new().word("!trap").word(trap_message), trap_hex),
            (
                Sentence::new()
                    .word("/system/resource/print")
                    .word("=.proplist=uptime,cpu-load")
                    .word(".tag=7"),
                "16 2f 73 79 73 74 65 6d 2f 72 65 73 6f 75 72 63 65 2f 70 72 69 6e 74 \
                 1a 3d 2e 70 72 6f 70 6c 69 73 74 3d 75 70 74 69 6d 65 2c 63 70 75 2d 6c 6f 61 64 \
                 06 2e 74 61 67 3d 37 00"
                    .into(),
            ),
        ];
        for (sentence, hex) in cases {
            let bytes = unhex(&hex);
            assert_eq!(sentence.to_bytes(), bytes);
            let mut decoder = Decoder::new();
            decoder.feed(&bytes);
            assert_eq!(decoder.next_sentence(), Ok(Some(sentence)));
            assert_eq!(decoder.next_sentence(), Ok(None));
            assert!(decoder.is_idle());
        }
        let request = Request::new("/system/resource/print")
            .proplist(&["uptime", "cpu-load"])
            .tag("7");
        assert_eq!(
            request.to_sentence().to_bytes(),
            unhex(
                "16 2f 73 79 73 74 65 6d 2f 72 65 73 6f 75 72 63 65 2f 70 72 69 6e 74 \
                 1a 3d 2e 70 72 6f 70 6c 69 73 74 3d 75 70 74 69 6d 65 2c 63 70 75 2d 6c 6f 61 64 \
                 06 2e 74 61 67 3d 37 00"
            )
        );
    }

    #[test]
    fn word_of_256_bytes_has_a_zero_inside_its_prefix() {
        let word = vec![b'x'; 256];
        let bytes = Sentence::new().word("!re").word(&word).to_bytes();
        assert_eq!(&bytes[4..6], &[0x81, 0x00]);
        let mut decoder = Decoder::new();
        decoder.feed(&bytes);
        let sentence = decoder.next_sentence().expect("valid").expect("complete");
        assert_eq!(sentence.words, vec![b"!re".to_vec(), word]);
    }

    #[test]
    fn word_body_split_across_feeds() {
        let bytes = Sentence::new().word("!re").word("=name=ether1").to_bytes();
        let mut decoder = Decoder::new();
        for (i, &b) in bytes.iter().enumerate() {
            assert_eq!(decoder.next_sentence(), Ok(None), "before byte {i}");
            decoder.feed(&[b]);
        }
        let sentence = decoder.next_sentence().expect("valid").expect("complete");
        assert_eq!(sentence.words[1], b"=name=ether1");
    }

    #[test]
    fn empty_sentences_are_skipped() {
        let mut decoder = Decoder::new();
        decoder.feed(&[0, 0]);
        assert_eq!(decoder.next_sentence(), Ok(None));
        assert!(decoder.is_idle());
        decoder.feed(&[0]);
        decoder.feed(&Sentence::new().word("!done").to_bytes());
        decoder.feed(&[0]);
        assert_eq!(
            decoder.next_sentence(),
            Ok(Some(Sentence::new().word("!done")))
        );
        assert_eq!(decoder.next_sentence(), Ok(None));
    }

    #[test]
    fn several_sentences_in_one_feed() {
        let mut bytes = Sentence::new().word("!re").word(".tag=1").to_bytes();
        bytes.extend(Sentence::new().word("!done").word(".tag=1").to_bytes());
        let mut decoder = Decoder::new();
        decoder.feed(&bytes);
        assert_eq!(
            decoder.next_sentence().expect("ok").expect("first").words[0],
            b"!re"
        );
        assert_eq!(
            decoder.next_sentence().expect("ok").expect("second").words[0],
            b"!done"
        );
        assert_eq!(decoder.next_sentence(), Ok(None));
    }

    #[test]
    fn limits_are_enforced() {
        let mut decoder = Decoder::with_limits(4, 2);
        decoder.feed(&[0x05]);
        assert_eq!(
            decoder.next_sentence(),
            Err(CodecError::WordTooLong { len: 5, max: 4 })
        );
        let mut decoder = Decoder::with_limits(4, 2);
        decoder.feed(&Sentence::new().word("a").word("b").word("c").to_bytes());
        assert_eq!(decoder.next_sentence(), Err(CodecError::TooManyWords(2)));
        let mut decoder = Decoder::with_limits(4, 2);
        decoder.feed(&Sentence::new().word("a").word("b").to_bytes());
        assert!(decoder.next_sentence().expect("within limits").is_some());
    }

    #[test]
    fn attribute_split() {
        type Split<'a> = Option<(&'a [u8], &'a [u8])>;
        let cases: &[(&[u8], Split)] = &[
            (b"=name=value", Some((b"name", b"value"))),
            (b"=name=iu=c3Eeg", Some((b"name", b"iu=c3Eeg"))),
            (b"=comment=", Some((b"comment", b""))),
            (b"=only-key", Some((b"only-key", b""))),
            (b"=.id=*1", Some((b".id", b"*1"))),
            (b"==x", Some((b"", b"x"))),
            (b"name=value", None),
            (b".tag=1", None),
            (b"", None),
        ];
        for &(word, expected) in cases {
            assert_eq!(
                split_attribute(word),
                expected,
                "{:?}",
                String::from_utf8_lossy(word)
            );
        }
    }

    fn sentence(words: &[&str]) -> Sentence {
        Sentence {
            words: words.iter().map(|w| w.as_bytes().to_vec()).collect(),
        }
    }

    #[test]
    fn request_parse_table() {
        let cases: Vec<(&[&str], Request)> = vec![
            (
                &["/login", "=name=admin", "=password=a=b"],
                Request::new("/login")
                    .attr("name", "admin")
                    .attr("password", "a=b"),
            ),
            (
                &[
                    "/interface/print",
                    ".tag=9",
                    "?type=ether",
                    "=.proplist=name",
                    "?#|",
                ],
                Request::new("/interface/print")
                    .attr(".proplist", "name")
                    .query("type=ether")
                    .query("#|")
                    .tag("9"),
            ),
            (
                &["/cancel", "=tag=4", ".tag="],
                Request::new("/cancel").attr("tag", "4"),
            ),
            (&["login"], Request::new("login")),
            (
                &["/ip/route/print", "=follow"],
                Request::new("/ip/route/print").attr("follow", ""),
            ),
        ];
        for (words, expected) in cases {
            assert_eq!(Request::parse(&sentence(words)), Ok(expected), "{words:?}");
        }
    }

    #[test]
    fn request_parse_rejects() {
        let cases: &[&[&str]] = &[
            &[],
            &["!done"],
            &["/print", "bare"],
            &["/print", ".id=*1"],
            &[".tag=3", "/interface/print"],
            &["=name=x"],
            &["?type=ether"],
        ];
        for words in cases {
            assert!(
                matches!(
                    Request::parse(&sentence(words)),
                    Err(CodecError::Malformed(_))
                ),
                "{words:?}"
            );
        }
        assert!(
            Request::parse(&Sentence {
                words: vec![Vec::new()]
            })
            .is_err()
        );
    }

    #[test]
    fn request_builders_and_sentence_order() {
        let request = Request::new("/log/print")
            .tag("12")
            .attr("follow-only", "")
            .query("topics=system")
            .proplist(&["time", "message"]);
        assert_eq!(request.get(".proplist"), Some(&b"time,message"[..]));
        assert_eq!(request.get("follow-only"), Some(&b""[..]));
        assert_eq!(request.get("missing"), None);
        assert_eq!(
            request.to_sentence(),
            sentence(&[
                "/log/print",
                "=follow-only=",
                "=.proplist=time,message",
                "?topics=system",
                ".tag=12"
            ])
        );
        assert_eq!(Request::parse(&request.to_sentence()), Ok(request));
        assert_eq!(Request::new("/x").tag("").tag, None);
    }

    #[test]
    fn reply_parse_table() {
        let cases: Vec<(&[&str], Reply)> = vec![
            (
                &["!re", ".tag=7", "=uptime=4d15h20m38s", "=only-key"],
                Reply::re()
                    .with_tag(Some(b"7"))
                    .attr("uptime", "4d15h20m38s")
                    .attr("only-key", ""),
            ),
            (
                &["!re", "=name=ether1", ".tag=probe1"],
                Reply::re().with_tag(Some(b"probe1")).attr("name", "ether1"),
            ),
            (&["!done"], Reply::done()),
            (
                &["!done", "=ret=856780b7411eefd3abadee2058c149a3"],
                Reply::done().attr("ret", "856780b7411eefd3abadee2058c149a3"),
            ),
            (
                &["!trap", ".tag=10", "=category=2", "=message=interrupted"],
                Reply::of(ReplyKind::Trap)
                    .with_tag(Some(b"10"))
                    .attr("category", "2")
                    .attr("message", "interrupted"),
            ),
            (
                &["!trap", "=message=invalid user name or password (6)"],
                Reply::trap("invalid user name or password (6)"),
            ),
            (&["!empty", ".tag=5"], Reply::empty().with_tag(Some(b"5"))),
            (&["!fatal", "not logged in"], Reply::fatal("not logged in")),
            (
                &["!fatal", "session", "terminated"],
                Reply::fatal("session terminated"),
            ),
            (&["!done", ".tag="], Reply::done()),
        ];
        for (words, expected) in cases {
            assert_eq!(Reply::parse(&sentence(words)), Ok(expected), "{words:?}");
        }
    }

    #[test]
    fn reply_parse_rejects() {
        let cases: &[&[&str]] = &[&[], &["!unknown"], &["/login"], &["!re", "bare"], &["re"]];
        for words in cases {
            assert!(
                matches!(
                    Reply::parse(&sentence(words)),
                    Err(CodecError::Malformed(_))
                ),
                "{words:?}"
            );
        }
    }

    #[test]
    fn reply_sentence_order_and_round_trip() {
        let replies = [
            Reply::re().attr("a", "b=c").with_tag(Some(b"t")),
            Reply::done().attr("ret", "*3"),
            Reply::trap("interrupted")
                .attr("category", "2")
                .with_tag(Some(b"1")),
            Reply::empty(),
            Reply::fatal("not logged in"),
        ];
        for reply in replies {
            assert_eq!(Reply::parse(&reply.to_sentence()), Ok(reply.clone()));
        }
        assert_eq!(
            Reply::re()
                .attr("a", "1")
                .with_tag(Some(b"t"))
                .to_sentence(),
            sentence(&["!re", ".tag=t", "=a=1"])
        );
        assert_eq!(
            Reply::fatal("not logged in").to_sentence(),
            sentence(&["!fatal", "not logged in"])
        );
        assert_eq!(Reply::trap("x").get("message"), Some(&b"x"[..]));
        assert_eq!(Reply::done().with_tag(Some(b"")).tag, None);
    }

    /// Two commands' replies interleaved on one stream (socialwifi `test_mixed_calls`).
    #[test]
    fn interleaved_tags() {
        let stream: Vec<Reply> = vec![
            Reply::re().with_tag(Some(b"1")).attr("name", "a"),
            Reply::re().with_tag(Some(b"2")).attr("name", "x"),
            Reply::re().with_tag(Some(b"1")).attr("name", "b"),
            Reply::done().with_tag(Some(b"2")),
            Reply::done().with_tag(Some(b"1")),
        ];
        let mut bytes = Vec::new();
        for reply in &stream {
            reply.to_sentence().encode(&mut bytes);
        }
        let mut decoder = Decoder::new();
        decoder.feed(&bytes);
        let mut by_tag: std::collections::BTreeMap<Vec<u8>, Vec<ReplyKind>> = Default::default();
        while let Some(s) = decoder.next_sentence().expect("valid stream") {
            let reply = Reply::parse(&s).expect("valid reply");
            by_tag
                .entry(reply.tag.clone().expect("tagged"))
                .or_default()
                .push(reply.kind);
        }
        assert_eq!(
            by_tag[&b"1".to_vec()],
            [ReplyKind::Re, ReplyKind::Re, ReplyKind::Done]
        );
        assert_eq!(by_tag[&b"2".to_vec()], [ReplyKind::Re, ReplyKind::Done]);
    }

    #[test]
    fn reply_kind_words() {
        for kind in [
            ReplyKind::Re,
            ReplyKind::Done,
            ReplyKind::Trap,
            ReplyKind::Empty,
            ReplyKind::Fatal,
        ] {
            assert_eq!(ReplyKind::from_word(kind.word()), Some(kind));
        }
        assert_eq!(ReplyKind::from_word(b"!ok"), None);
    }

    mod properties {
        use super::super::*;
        use proptest::collection::vec;
        use proptest::prelude::*;

        /// Word sizes chosen to straddle the 1/2/3-byte prefix boundaries without huge inputs.
        fn word() -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                4 => vec(any::<u8>(), 1..140),
                1 => vec(any::<u8>(), 16_370..16_400),
                1 => vec(any::<u8>(), 1..20_000),
            ]
        }

        fn sentences() -> impl Strategy<Value = Vec<Sentence>> {
            vec(vec(word(), 1..5).prop_map(|words| Sentence { words }), 1..4)
        }

        fn decode_in_chunks(bytes: &[u8], cuts: &[usize]) -> Vec<Sentence> {
            let mut decoder = Decoder::new();
            let mut out = Vec::new();
            let mut start = 0;
            let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
            points.sort_unstable();
            points.push(bytes.len());
            for end in points {
                decoder.feed(&bytes[start..end.max(start)]);
                start = end.max(start);
                while let Some(s) = decoder.next_sentence().expect("valid stream") {
                    out.push(s);
                }
            }
            assert!(decoder.is_idle());
            out
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            #[test]
            fn length_round_trip(len in any::<u32>()) {
                let mut out = Vec::new();
                encode_length(len, &mut out);
                prop_assert_eq!(decode_length(&out), Ok(Some((len, out.len()))));
                for cut in 0..out.len() {
                    prop_assert_eq!(decode_length(&out[..cut]), Ok(None));
                }
            }

            #[test]
            fn encode_then_decode_is_identity(sentences in sentences()) {
                let mut bytes = Vec::new();
                for s in &sentences {
                    s.encode(&mut bytes);
                }
                prop_assert_eq!(decode_in_chunks(&bytes, &[]), sentences);
            }

            #[test]
            fn chunking_does_not_matter(
                sentences in sentences(),
                cuts in vec(any::<usize>(), 0..40),
            ) {
                let mut bytes = Vec::new();
                for s in &sentences {
                    s.encode(&mut bytes);
                    bytes.push(0); // an empty sentence between real ones is skipped
                }
                prop_assert_eq!(decode_in_chunks(&bytes, &cuts), sentences);
            }

            #[test]
            fn decoder_never_panics(bytes in vec(any::<u8>(), 0..512)) {
                let mut decoder = Decoder::with_limits(1024, 16);
                decoder.feed(&bytes);
                while let Ok(Some(_)) = decoder.next_sentence() {}
            }
        }
    }
}
