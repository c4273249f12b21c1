//! A pull reader of JSON text, for the posts SDK fleets make thousands of times a second
//! (metrics reports with impact metrics, `crate::signals::raw`).
//!
//! serde_json drives a visitor per value through its generic machinery, and with the report
//! read into lenient structs that came to half a core at 2,000 reports a second, enough to slow
//! the feed's polls beside it. Here the caller asks for what it expects next (an object's
//! fields, an array's items, a scalar) and the reader answers from the bytes: text is borrowed
//! from the input unless it holds escapes, and nothing is allocated for what is skipped.
//!
//! It reads RFC 8259 JSON as serde_json does (same values, the same documents refused), with
//! one difference: a number too large for an `f64` reads as an infinity, for the rules to
//! refuse one sample rather than the whole document.

use std::borrow::Cow;
use std::fmt;

/// How deep arrays and objects may nest, as serde_json's limit: deeper input is refused rather
/// than read by a recursion that could exhaust the stack.
const MAX_DEPTH: usize = 128;

/// Why the text is not JSON, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub what: &'static str,
    /// Byte offset into the text.
    pub at: usize,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// What kind of value comes next, from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Object,
    Array,
    String,
    Number,
    Bool,
    Null,
}

/// One value as far as lenient rules care: a scalar as it was written, or the mark of an array
/// or object where one value was wanted.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Scalar<'a> {
    #[default]
    Null,
    Bool(bool),
    /// A negative whole number (non-negative ones are `UInt`, as serde_json reads them).
    Int(i64),
    UInt(u64),
    Float(f64),
    Text(Cow<'a, str>),
    Nested,
}

impl Scalar<'_> {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::Text(t) => Some(t),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Scalar::Null)
    }
}

/// Bytes that end the plain run of a string: the quote, the backslash and control characters
/// (which JSON only allows escaped).
static STOPS: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Where the plain run of a string starting at `i` ends: the first quote, backslash or control
/// character, or the end. Eight bytes at a time while eight remain: most of a report is text.
#[inline]
fn plain_run(bytes: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // The high bit of each byte that is zero in `x`, or below `n` (n <= 0x80); bits above the
    // first flagged byte may be wrong (borrows), the first one never is.
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGH;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let x = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        let stops =
            zero(x ^ (ONES * b'"' as u64)) | zero(x ^ (ONES * b'\\' as u64)) | below(x, 0x20);
        if stops != 0 {
            return i + (stops.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < bytes.len() && !STOPS[bytes[i] as usize] {
        i += 1;
    }
    i
}

/// The powers of ten a double holds exactly.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

pub struct Reader<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
}

impl<'a> Reader<'a> {
    pub fn new(text: &'a str) -> Reader<'a> {
        Reader {
            text,
            pos: 0,
            depth: 0,
        }
    }

    /// Reads the one value of `text` with `read`; Err when `text` is not exactly one JSON value.
    pub fn read_all<T>(
        text: &'a str,
        read: impl FnOnce(&mut Reader<'a>) -> Result<T>,
    ) -> Result<T> {
        let mut r = Reader::new(text);
        let value = read(&mut r)?;
        r.skip_space();
        if r.pos < text.len() {
            return r.fail("trailing characters after the value");
        }
        Ok(value)
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn fail<T>(&self, what: &'static str) -> Result<T> {
        Err(Error { what, at: self.pos })
    }

    /// `what`, unless the text simply stopped short.
    fn fail_or_ended<T>(&self, what: &'static str) -> Result<T> {
        if self.pos >= self.text.len() {
            self.fail("the text ended before every array and object was closed")
        } else {
            self.fail(what)
        }
    }

    /// Skips white space. Most values have none or one space before them: the first byte settles
    /// it, and the loop keeps the position in a register rather than storing it at every byte.
    #[inline(always)]
    fn skip_space(&mut self) {
        let bytes = self.bytes();
        let mut i = self.pos;
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = bytes.get(i) {
            i += 1;
        }
        self.pos = i;
    }

    /// Skips white space and takes `b` if it comes next.
    #[inline]
    fn eat(&mut self, b: u8) -> bool {
        // Most documents put no space before a separator: one look settles it.
        if self.bytes().get(self.pos) != Some(&b) {
            self.skip_space();
            if self.bytes().get(self.pos) != Some(&b) {
                return false;
            }
        }
        self.pos += 1;
        true
    }

    /// What the next value is, without reading it.
    pub fn peek(&mut self) -> Result<Next> {
        self.skip_space();
        match self.next_here() {
            Some(next) => Ok(next),
            None if self.pos < self.text.len() => self.fail("expected a value"),
            None => self.fail("the text ended where a value was expected"),
        }
    }

    /// What the value starting at `pos` is, from its first byte; None when no value starts there.
    #[inline(always)]
    fn next_here(&self) -> Option<Next> {
        Some(match self.bytes().get(self.pos)? {
            b'{' => Next::Object,
            b'[' => Next::Array,
            b'"' => Next::String,
            b'-' | b'0'..=b'9' => Next::Number,
            b't' | b'f' => Next::Bool,
            b'n' => Next::Null,
            _ => return None,
        })
    }

    fn enter(&mut self, open: u8) -> Result<()> {
        if !self.eat(open) {
            return self.fail(if open == b'{' {
                "expected an object"
            } else {
                "expected an array"
            });
        }
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.fail("nested too deeply");
        }
        Ok(())
    }

    /// Reads an object, handing each key to `field`, which must read or skip its value.
    pub fn object(
        &mut self,
        mut field: impl FnMut(&mut Reader<'a>, Cow<'a, str>) -> Result<()>,
    ) -> Result<()> {
        self.enter(b'{')?;
        if !self.eat(b'}') {
            loop {
                self.skip_space();
                if self.bytes().get(self.pos) != Some(&b'"') {
                    return self.fail("expected a key");
                }
                let key = self.string_at_quote()?;
                if !self.eat(b':') {
                    return self.fail("expected ':' after a key");
                }
                field(self, key)?;
                if self.eat(b',') {
                    continue;
                }
                if self.eat(b'}') {
                    break;
                }
                return self.fail_or_ended("expected ',' or '}'");
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// Reads an array, calling `item` for each element, which must read or skip it.
    pub fn array(&mut self, mut item: impl FnMut(&mut Reader<'a>) -> Result<()>) -> Result<()> {
        self.enter(b'[')?;
        if !self.eat(b']') {
            loop {
                item(self)?;
                if self.eat(b',') {
                    continue;
                }
                if self.eat(b']') {
                    break;
                }
                return self.fail_or_ended("expected ',' or ']'");
            }
        }
        self.depth -= 1;
        Ok(())
    }

    pub fn string(&mut self) -> Result<Cow<'a, str>> {
        self.skip_space();
        if self.bytes().get(self.pos) != Some(&b'"') {
            return self.fail("expected text");
        }
        self.string_at_quote()
    }

    /// The string whose opening quote is at `pos`: borrowed unless it holds escapes.
    #[inline(always)]
    fn string_at_quote(&mut self) -> Result<Cow<'a, str>> {
        let bytes = self.bytes();
        let start = self.pos + 1;
        let i = plain_run(bytes, start);
        match bytes.get(i) {
            Some(b'"') => {
                self.pos = i + 1;
                // SAFETY: `start` follows an ASCII quote and `i` is one, so both lie on
                // character boundaries of `text` (the checked slice was a call per string).
                Ok(Cow::Borrowed(unsafe { self.text.get_unchecked(start..i) }))
            }
            Some(b'\\') => self.escaped_string(start, i).map(Cow::Owned),
            Some(_) => {
                self.pos = i;
                self.fail("a control character in text (it must be escaped)")
            }
            None => {
                self.pos = i;
                self.fail("the text ended inside a string")
            }
        }
    }

    /// The rest of a string from its first escape at `i`. Kept out of line: inlined, it made
    /// every plain string (nearly all of them) pay for its registers.
    #[cold]
    #[inline(never)]
    fn escaped_string(&mut self, start: usize, mut i: usize) -> Result<String> {
        let bytes = self.bytes();
        let mut out = String::with_capacity(i - start + 16);
        let mut run = start;
        loop {
            i = plain_run(bytes, i);
            out.push_str(&self.text[run..i]);
            self.pos = i;
            match bytes.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let c = match bytes.get(i + 1) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            let (c, len) = self.unicode_escape(i)?;
                            i += len;
                            run = i;
                            out.push(c);
                            continue;
                        }
                        _ => return self.fail("an unknown escape in text"),
                    };
                    out.push(c);
                    i += 2;
                    run = i;
                }
                Some(_) => return self.fail("a control character in text (it must be escaped)"),
                None => return self.fail("the text ended inside a string"),
            }
        }
    }

    /// The character of the `\u` escape at `i` (with its low surrogate, if it is a high one) and
    /// the length of what was read.
    fn unicode_escape(&mut self, i: usize) -> Result<(char, usize)> {
        let hi = self.hex4(i + 2)?;
        let code = match hi {
            0xD800..=0xDBFF => {
                let bytes = self.bytes();
                if bytes.get(i + 6) != Some(&b'\\') || bytes.get(i + 7) != Some(&b'u') {
                    return self.fail("a lone surrogate in a \\u escape");
                }
                let lo = self.hex4(i + 8)?;
                if !(0xDC00..=0xDFFF).contains(&lo) {
                    return self.fail("a lone surrogate in a \\u escape");
                }
                let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                return Ok((char::from_u32(c).unwrap_or('\u{FFFD}'), 12));
            }
            0xDC00..=0xDFFF => return self.fail("a lone surrogate in a \\u escape"),
            c => c,
        };
        Ok((char::from_u32(code).unwrap_or('\u{FFFD}'), 6))
    }

    fn hex4(&mut self, at: usize) -> Result<u32> {
        let digits = self.bytes().get(at..at + 4);
        let text = digits.and_then(|d| std::str::from_utf8(d).ok());
        match text.filter(|t| t.bytes().all(|b| b.is_ascii_hexdigit())) {
            Some(t) => u32::from_str_radix(t, 16).or_else(|_| self.fail("a bad \\u escape")),
            None => {
                self.pos = at;
                self.fail("a \\u escape needs four hexadecimal digits")
            }
        }
    }

    /// A number as serde_json reads it: whole numbers as `UInt` (or `Int` when negative) while
    /// they fit, everything else as `Float`.
    pub fn number(&mut self) -> Result<Scalar<'a>> {
        self.skip_space();
        self.number_here()
    }

    fn number_here(&mut self) -> Result<Scalar<'a>> {
        let bytes = self.bytes();
        let start = self.pos;
        // The digits from `i`, added to `n` (exact while 19 digits or fewer) and counted.
        let digits = |mut i: usize, mut n: u64| {
            let from = i;
            while let Some(d @ b'0'..=b'9') = bytes.get(i) {
                n = n.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
                i += 1;
            }
            (i, n, i - from)
        };
        let negative = bytes.get(start) == Some(&b'-');
        let mut i = start + usize::from(negative);
        let (mut mantissa, mut count) = match bytes.get(i) {
            Some(b'0') => {
                i += 1;
                (0, 1)
            }
            Some(b'1'..=b'9') => {
                let (end, n, c) = digits(i, 0);
                i = end;
                (n, c)
            }
            _ => {
                self.pos = i;
                return self.fail("expected a number");
            }
        };
        let mut fraction = None;
        if bytes.get(i) == Some(&b'.') {
            let (end, n, c) = digits(i + 1, mantissa);
            if c == 0 {
                self.pos = i + 1;
                return self.fail("expected a digit after the decimal point");
            }
            (i, mantissa, fraction) = (end, n, Some(c));
            count += c;
        }
        let mut exponent = false;
        if let Some(b'e' | b'E') = bytes.get(i) {
            exponent = true;
            i += 1;
            if let Some(b'+' | b'-') = bytes.get(i) {
                i += 1;
            }
            if !bytes.get(i).is_some_and(u8::is_ascii_digit) {
                self.pos = i;
                return self.fail("expected a digit in the exponent");
            }
            i = digits(i, 0).0;
        }
        self.pos = i;
        let whole = fraction.is_none() && !exponent;
        if whole && count <= 19 {
            if !negative {
                return Ok(Scalar::UInt(mantissa));
            }
            // serde_json reads -0 as the float -0.0.
            if mantissa != 0 && mantissa <= i64::MAX as u64 + 1 {
                return Ok(Scalar::Int((mantissa as i64).wrapping_neg()));
            }
        }
        let text = &self.text[start..i];
        if whole {
            let n = if negative {
                text.parse().ok().filter(|n| *n != 0).map(Scalar::Int)
            } else {
                text.parse().ok().map(Scalar::UInt)
            };
            if let Some(n) = n {
                return Ok(n);
            }
        }
        // `digits.digits`, as most measurements are written, when its value comes out exact: a
        // whole number below 2^53 (15 digits) divided by a power of ten up to 10^22 are both
        // exact doubles, and one division rounds correctly (Clinger's fast path, which
        // `str::parse` also takes, after a general scan that costs more than the division).
        if let (Some(places), false, true) = (fraction, exponent, count <= 15) {
            let x = mantissa as f64 / POWERS_OF_TEN[places];
            return Ok(Scalar::Float(if negative { -x } else { x }));
        }
        // The grammar was checked above, which is all f64's parser asks of its input.
        match text.parse::<f64>() {
            Ok(x) => Ok(Scalar::Float(x)),
            Err(_) => self.fail("expected a number"),
        }
    }

    fn literal(&mut self, word: &'static str) -> Result<()> {
        if self.bytes()[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(())
        } else {
            self.fail("expected true, false or null")
        }
    }

    pub fn bool(&mut self) -> Result<bool> {
        self.skip_space();
        match self.bytes().get(self.pos) {
            Some(b't') => self.literal("true").map(|_| true),
            _ => self.literal("false").map(|_| false),
        }
    }

    pub fn null(&mut self) -> Result<()> {
        self.skip_space();
        self.literal("null")
    }

    /// Any value as a [`Scalar`]; arrays and objects are skipped and read as `Nested`.
    pub fn scalar(&mut self) -> Result<Scalar<'a>> {
        self.skip_space();
        // Not through `peek`'s Result: most scalars are text or numbers, read at once.
        match self.next_here() {
            Some(Next::String) => self.string_at_quote().map(Scalar::Text),
            Some(Next::Number) => self.number_here(),
            Some(Next::Object | Next::Array) => self.skip().map(|_| Scalar::Nested),
            Some(Next::Bool) => self.bool().map(Scalar::Bool),
            Some(Next::Null) => self.null().map(|_| Scalar::Null),
            // Not the start of a value (or the end): `peek` says which.
            None => self.peek().map(|_| Scalar::Null),
        }
    }

    /// Reads past the next value, whatever it is.
    pub fn skip(&mut self) -> Result<()> {
        match self.peek()? {
            Next::Object => self.object(|r, _| r.skip()),
            Next::Array => self.array(|r| r.skip()),
            Next::String => self.string_at_quote().map(drop),
            Next::Number => self.number_here().map(drop),
            Next::Bool => self.bool().map(drop),
            Next::Null => self.null(),
        }
    }

    /// Reads an object's fields with `field` and gives true; anything else is skipped and
    /// gives false. For lenient readers, which take a wrong shape as a missing value.
    pub fn fields(
        &mut self,
        field: impl FnMut(&mut Reader<'a>, Cow<'a, str>) -> Result<()>,
    ) -> Result<bool> {
        if self.peek()? != Next::Object {
            self.skip()?;
            return Ok(false);
        }
        self.object(field).map(|_| true)
    }

    /// Reads an array's items with `item` and gives true; anything else is skipped and gives
    /// false.
    pub fn items(&mut self, item: impl FnMut(&mut Reader<'a>) -> Result<()>) -> Result<bool> {
        if self.peek()? != Next::Array {
            self.skip()?;
            return Ok(false);
        }
        self.array(item).map(|_| true)
    }

    /// Reads an array's items with `item`; anything else is skipped and gives None.
    pub fn list<T>(
        &mut self,
        mut item: impl FnMut(&mut Reader<'a>) -> Result<T>,
    ) -> Result<Option<Vec<T>>> {
        let mut out = Vec::new();
        let read = self.items(|r| {
            out.push(item(r)?);
            Ok(())
        })?;
        Ok(read.then_some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The whole document read back as a serde_json value, through the reader alone.
    fn value(r: &mut Reader) -> Result<Value> {
        Ok(match r.peek()? {
            Next::Object => {
                let mut map = serde_json::Map::new();
                r.object(|r, k| {
                    map.insert(k.into_owned(), value(r)?);
                    Ok(())
                })?;
                Value::Object(map)
            }
            Next::Array => {
                let mut items = Vec::new();
                r.array(|r| {
                    items.push(value(r)?);
                    Ok(())
                })?;
                Value::Array(items)
            }
            _ => match r.scalar()? {
                Scalar::Null => Value::Null,
                Scalar::Bool(b) => Value::Bool(b),
                Scalar::Int(n) => n.into(),
                Scalar::UInt(n) => n.into(),
                Scalar::Float(x) => {
                    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
                }
                Scalar::Text(t) => Value::String(t.into_owned()),
                Scalar::Nested => unreachable!("arrays and objects are read above"),
            },
        })
    }

    fn read(text: &str) -> Result<Value> {
        Reader::read_all(text, value)
    }

    #[test]
    fn short_decimals_read_as_the_general_parser_reads_them() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..200_000 {
            let digits = 1 + (next() % 15) as usize;
            let text: String = (0..digits)
                .map(|_| char::from(b'0' + (next() % 10) as u8))
                .collect();
            let point = ((next() as usize) % digits).max(1);
            // JSON writes no leading zeros, and some numbers are negative.
            let whole = text[..point].trim_start_matches('0');
            let whole = if whole.is_empty() { "0" } else { whole };
            let sign = if next() % 4 == 0 { "-" } else { "" };
            let number = format!("{sign}{whole}.{}", &text[point..]);
            let number = number.trim_end_matches('.');
            let want: f64 = number.parse().unwrap();
            let mut reader = Reader::new(number);
            let read = reader.number().unwrap();
            assert_eq!(reader.pos, number.len(), "{number}");
            match read {
                Scalar::Int(n) => assert_eq!(n as f64, want, "{number}"),
                Scalar::Float(x) => assert_eq!(x.to_bits(), want.to_bits(), "{number}"),
                Scalar::UInt(n) => assert_eq!(n as f64, want, "{number}"),
                other => panic!("{number}: {other:?}"),
            }
        }
    }

    #[test]
    fn reads_what_serde_json_reads_and_refuses_what_it_refuses() {
        let docs = [
            r#"{"a": [1, -2, 3.5, -0.25e2, 1E3, 0, -0, 18446744073709551615, -9223372036854775808], "b": {"c": null, "d": [true, false]}}"#,
            r#"  [ "plain", "esc\"aped\\", "\u00e9\ud83d\ude00\n\t\/", "", "naïve ☃" ]  "#,
            r#"{"dup": 1, "dup": 2}"#,
            "[18446744073709551616, -9223372036854775809, 1.7976931348623157e308]",
            "{}",
            "[]",
            "[[[]]]",
            "\"x\"",
            "0",
            "-1",
            "true",
            "null",
            // Refused: not JSON.
            "",
            " ",
            "{",
            "}",
            "[1,]",
            "[,1]",
            "{\"a\" 1}",
            "{\"a\": 1,}",
            "{a: 1}",
            "[01]",
            "[1.]",
            "[.5]",
            "[1e]",
            "[-]",
            "[+1]",
            "[tru]",
            "[nul]",
            "\"open",
            "\"a\\x\"",
            "\"\\u12\"",
            "\"\\ud800\"",
            "\"\\udc00x\"",
            "\"tab\there\"",
            "[1] 2",
            "[\"a\"",
            "{\"a\":1",
            "NaN",
            "[Infinity]",
            "[1,,2]",
            "{\"a\":1 \"b\":2}",
        ];
        for doc in docs {
            let ours = read(doc);
            let theirs = serde_json::from_str::<Value>(doc);
            match (&ours, &theirs) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{doc}"),
                (Err(_), Err(_)) => {}
                _ => panic!("{doc}: ours {ours:?}, serde_json {theirs:?}"),
            }
        }
    }

    /// Equal, but for the last bit of a float: serde_json's default float parsing is not
    /// always correctly rounded, and std's is.
    fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Array(a), Value::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same(a, b))
            }
            (Value::Object(a), Value::Object(b)) => {
                a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| same(v, w)))
            }
            (Value::Number(x), Value::Number(y)) if x.is_f64() && y.is_f64() => {
                let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
                x == y || (x - y).abs() <= 1e-15 * x.abs().max(y.abs())
            }
            _ => a == b,
        }
    }

    /// Frontend tokens ship in web pages, so anyone can post a report to this reader: broken
    /// copies of real documents, byte by byte, must get serde_json's verdict and values.
    #[test]
    fn mangled_documents_get_serde_json_s_verdict() {
        use rand::{Rng, SeedableRng};
        let seeds = [
            r#"{"appName":"shop","bucket":{"start":"2026-12-07T10:00:00Z","toggles":{"f":{"yes":4,"no":0,"variants":{"a":1}}}},"impactMetrics":[{"name":"m","help":"h","type":"histogram","samples":[{"labels":{"route":"/p\u00e9","code":500},"count":2,"sum":0.5,"buckets":[{"le":0.1,"count":1},{"le":"+Inf","count":2}]}]}]}"#,
            r#"[1, -2.5e-3, 0, true, false, null, "a\"b\\c\n", {"": []}, [[{}]], 12345678901234567890]"#,
        ];
        let alphabet = b"{}[]:,\"\\/-+.0123456789eEtrufalsn \t\n\x01u\xc3\xa9ab";
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut checked = 0;
        for _ in 0..20_000 {
            let mut doc = seeds[rng.gen_range(0..seeds.len())].as_bytes().to_vec();
            for _ in 0..rng.gen_range(1..4) {
                let at = rng.gen_range(0..doc.len());
                match rng.gen_range(0..4) {
                    0 => doc[at] = alphabet[rng.gen_range(0..alphabet.len())],
                    1 => doc.insert(at, alphabet[rng.gen_range(0..alphabet.len())]),
                    2 => {
                        doc.remove(at);
                    }
                    _ => doc.truncate(at),
                }
                if doc.is_empty() {
                    break;
                }
            }
            let Ok(text) = std::str::from_utf8(&doc) else {
                continue;
            };
            checked += 1;
            let ours = read(text);
            let theirs = serde_json::from_str::<Value>(text);
            match (&ours, &theirs) {
                (Ok(a), Ok(b)) => assert!(same(a, b), "{text}: ours {a}, serde_json {b}"),
                (Err(_), Err(_)) => {}
                // The one difference on purpose: a number past f64 reads as infinity.
                (Ok(_), Err(e)) if e.to_string().contains("number out of range") => {}
                _ => panic!("{text}: ours {ours:?}, serde_json {theirs:?}"),
            }
        }
        assert!(checked > 10_000, "{checked} documents checked");
    }

    #[test]
    fn text_without_escapes_is_borrowed() {
        let mut r = Reader::new(r#"["plain", "esc\n"]"#);
        let mut seen = Vec::new();
        r.array(|r| {
            seen.push(r.string()?);
            Ok(())
        })
        .unwrap();
        assert!(matches!(seen[0], Cow::Borrowed("plain")));
        assert!(matches!(&seen[1], Cow::Owned(s) if s == "esc\n"));
    }

    #[test]
    fn the_plain_run_ends_at_the_first_stop_whatever_its_place_in_a_word() {
        for len in 0..20 {
            for stop in ["\"", "\\", "\n", "\u{1f}"] {
                let text = format!(
                    "{}{stop}é{stop}",
                    "ab\u{7f}é"
                        .repeat(len)
                        .chars()
                        .take(len)
                        .collect::<String>()
                );
                let first = text.find(stop).unwrap();
                assert_eq!(plain_run(text.as_bytes(), 0), first, "{text:?}");
            }
            let plain = "x".repeat(len);
            assert_eq!(plain_run(plain.as_bytes(), 0), len);
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_followed() {
        let deep = "[".repeat(100_000);
        let err = read(&deep).unwrap_err();
        assert_eq!(err.what, "nested too deeply");
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(read(&ok).is_ok());
    }

    #[test]
    fn errors_say_what_and_where() {
        let err = read("{\"a\": 1 \"b\": 2}").unwrap_err();
        assert_eq!(err.to_string(), "expected ',' or '}' at byte 8");
    }

    #[test]
    fn numbers_too_large_for_a_float_read_as_infinity() {
        assert_eq!(
            Reader::read_all("1e400", |r| r.number()).unwrap(),
            Scalar::Float(f64::INFINITY)
        );
    }
}
