//! How values reach the server log: every field of every event and span goes through one
//! visitor that escapes control characters, so a value a visitor typed (an e-mail address at
//! sign-in, a user agent) can neither start a forged line nor send escape codes to a terminal
//! (reliability plan G6, L13; ASVS 16.4.1). Escaping here, once, means no call site has to
//! remember to.

use std::fmt::{self, Write};
use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::FormatFields;

/// Formats fields like tracing's default (`message key=value …`), escaped.
pub struct EscapedFields;

impl<'w> FormatFields<'w> for EscapedFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = Visitor {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct Visitor<'w> {
    writer: Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl Visitor<'_> {
    fn write(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if self.result.is_err() {
            return;
        }
        let value = value.to_string();
        self.result = (|| {
            if !self.first {
                self.writer.write_char(' ')?;
            }
            self.first = false;
            let name = field.name();
            if name != "message" {
                write!(self.writer, "{}=", name.strip_prefix("r#").unwrap_or(name))?;
            }
            write_escaped(&mut self.writer, &value)
        })();
    }
}

impl Visit for Visitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.write(field, format_args!("{value}"));
        } else {
            self.write(field, format_args!("{value:?}"));
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.write(field, format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.write(field, format_args!("{value:?}"));
    }
}

/// Writes `s` with every control character (C0, DEL, C1), line and paragraph separator and
/// bidirectional override escaped, so it stays on one line and reads as it was sent.
pub fn write_escaped(out: &mut impl Write, s: &str) -> fmt::Result {
    for c in s.chars() {
        match c {
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            c if needs_escape(c) => write!(out, "\\u{{{:x}}}", c as u32)?,
            c => out.write_char(c)?,
        }
    }
    Ok(())
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{061c}' | '\u{200e}' | '\u{200f}'
        )
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(s: &str) -> String {
        let mut out = String::new();
        write_escaped(&mut out, s).unwrap();
        out
    }

    #[test]
    fn control_characters_are_escaped_and_the_rest_is_kept() {
        assert_eq!(escaped("a\nb\r\tc"), r"a\nb\r\tc");
        assert_eq!(escaped("\u{1b}[31mred"), r"\u{1b}[31mred");
        assert_eq!(escaped("\u{7f}\u{85}\u{9b}"), r"\u{7f}\u{85}\u{9b}");
        assert_eq!(escaped("abc\u{202e}gnp.exe"), r"abc\u{202e}gnp.exe");
        assert_eq!(escaped("line\u{2028}sep"), r"line\u{2028}sep");
        assert_eq!(escaped("ünïcødé ok"), "ünïcødé ok");
    }

    #[test]
    fn an_event_with_a_forged_line_stays_on_one_line() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(EscapedFields)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", path = %"/x\n/y");
            let _in = span.enter();
            let email = "m@x\nINFO forged\u{1b}[2K";
            tracing::warn!(email = %email, debug = ?email, "sign-in failed\r\n");
        });
        let out = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(out.contains(r#"email=m@x\nINFO forged\u{1b}[2K"#), "{out}");
        assert!(
            out.contains(r#"debug="m@x\nINFO forged\u{1b}[2K""#),
            "{out}"
        );
        assert!(out.contains(r"path=/x\n/y"), "{out}");
        assert!(out.contains(r"sign-in failed\r\n"), "{out}");
        assert!(!out.contains('\u{1b}'), "{out:?}");
    }
}
