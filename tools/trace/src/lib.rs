//! Host decoder for Rampart's trace stream.
//!
//! Every image writes records to the board's trace UART as
//! `COBS(channel || payload)` followed by one `0x00` (see
//! [`rampart_ipc::trace`]). A payload is one raw-encoded defmt frame, or
//! UTF-8 text when the channel has [`TEXT`] set. [`Decoder`] splits a byte
//! stream into records, decodes each against the defmt table of the ELF that
//! owns its channel and yields printable [`Line`]s.
//!
//! Bytes that are not a record (an OS's console on the Normal world's UART,
//! plain text from foreign firmware such as TF-RMM, garbled output) are
//! never dropped: they come out as lines of the decoder's raw label (`uart`
//! unless set with [`Decoder::with_raw_label`], e.g. `console`), printable
//! characters only.

use std::collections::BTreeMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use anyhow::{Context, bail};
use defmt_decoder::{Encoding, Table};
use rampart_ipc::trace::{MAX_RECORD, TEXT, channel_name, decode_record};

/// Image name of bytes that are not a decodable record, by default.
pub const RAW_IMAGE: &str = "uart";
/// The raw label for the Normal world's UART: an OS's console output.
pub const CONSOLE_IMAGE: &str = "console";

/// Raw text without a line break is emitted anyway once this much has built up.
const MAX_RAW_LINE: usize = 4096;

/// One decoded line of trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// "root", "realm", "nshost", "guest", or the decoder's raw label
    /// ("uart", "console") for bytes that are not a record.
    pub image: String,
    /// "TRACE".."ERROR" for defmt log frames; None for text and println.
    pub level: Option<String>,
    /// The frame's timestamp as the image's `defmt::timestamp!` formats it.
    pub timestamp: Option<String>,
    pub text: String,
}

impl Line {
    fn raw(label: &str, text: String) -> Self {
        Self {
            image: label.to_owned(),
            level: None,
            timestamp: None,
            text,
        }
    }

    /// True for an ERROR-level line.
    pub fn is_error(&self) -> bool {
        self.level.as_deref() == Some("ERROR")
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.image)?;
        if let Some(timestamp) = &self.timestamp {
            write!(f, " {timestamp}")?;
        }
        if let Some(level) = &self.level {
            write!(f, " {level:<5}")?;
        }
        write!(f, " {}", self.text)
    }
}

/// What one chunk (the bytes between two delimiters) turned out to be.
enum Record {
    /// A record decoded into lines.
    Lines(Vec<Line>),
    /// A well-formed record of a channel with a table, whose frame does not decode.
    Malformed(u8, Vec<u8>),
    /// Not a record, or a record of a channel without a table.
    NotDecodable,
}

/// Streaming trace decoder.
#[derive(Clone)]
pub struct Decoder {
    tables: BTreeMap<u8, Table>,
    pending: Vec<u8>,
    raw_label: &'static str,
}

impl Decoder {
    /// Builds a decoder from `(channel, ELF bytes)` pairs; each ELF's defmt
    /// table is parsed once here.
    pub fn new(elfs: Vec<(u8, Vec<u8>)>) -> anyhow::Result<Self> {
        let mut tables = BTreeMap::new();
        for (channel, elf) in elfs {
            let name = channel_name(channel);
            if channel == 0 || channel & TEXT != 0 || name == "?" {
                bail!("channel {channel:#x} is not a defmt image channel");
            }
            let table = Table::parse(&elf)
                .with_context(|| format!("reading the defmt table of the {name} ELF"))?
                .with_context(|| {
                    format!("the {name} ELF has no .defmt section (not built with defmt?)")
                })?;
            if table.encoding() != Encoding::Raw {
                bail!(
                    "the {name} ELF uses defmt encoding {:?}; Rampart records carry raw frames \
                     (enable defmt's `encoding-raw`)",
                    table.encoding()
                );
            }
            if tables.insert(channel, table).is_some() {
                bail!("two ELFs given for channel {channel} ({name})");
            }
        }
        Ok(Self::with_tables(tables))
    }

    fn with_tables(tables: BTreeMap<u8, Table>) -> Self {
        Self {
            tables,
            pending: Vec::new(),
            raw_label: RAW_IMAGE,
        }
    }

    /// The same decoder labelling bytes that are not a record `label`
    /// (e.g. [`CONSOLE_IMAGE`] for the Normal world's UART).
    pub fn with_raw_label(mut self, label: &'static str) -> Self {
        self.raw_label = label;
        self
    }

    /// True when frames of `channel` can be decoded.
    pub fn has_table(&self, channel: u8) -> bool {
        self.tables.contains_key(&channel)
    }

    /// Feeds bytes as they arrive; returns the lines completed by them.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Line> {
        let mut out = Vec::new();
        let mut rest = bytes;
        while let Some(at) = rest.iter().position(|&b| b == 0) {
            let chunk = if self.pending.is_empty() {
                &rest[..at]
            } else {
                self.pending.extend_from_slice(&rest[..at]);
                &self.pending[..]
            };
            let lines = self.chunk(chunk);
            out.extend(lines);
            self.pending.clear();
            rest = &rest[at + 1..];
        }
        self.pending.extend_from_slice(rest);
        self.flush_safe_text(&mut out);
        out
    }

    /// Ends the stream: whatever is left without a delimiter is decoded if it
    /// is a record and printed raw otherwise.
    pub fn finish(&mut self) -> Vec<Line> {
        let pending = std::mem::take(&mut self.pending);
        self.chunk(&pending)
    }

    /// Emits complete lines of leading raw text that cannot belong to a
    /// record still in flight, so foreign firmware's console output shows as
    /// it arrives rather than at the next delimiter.
    ///
    /// An encoded record's second byte is its channel (COBS leaves a non-zero
    /// first byte in place), so a record can only start one byte before a
    /// channel byte; and it ends within `MAX_RECORD` bytes of its start.
    fn flush_safe_text(&mut self, out: &mut Vec<Line>) {
        let earliest_record = (1..self.pending.len())
            .find(|&i| is_channel_byte(self.pending[i]))
            .map_or(self.pending.len().saturating_sub(1), |i| i - 1);
        let safe = earliest_record.max(self.pending.len().saturating_sub(MAX_RECORD));
        let cut = match self.pending[..safe].iter().rposition(|&b| b == b'\n') {
            Some(newline) => newline + 1,
            None if safe >= MAX_RAW_LINE => safe,
            None => return,
        };
        raw_lines(self.raw_label, &self.pending[..cut], out);
        self.pending.drain(..cut);
    }

    /// Decodes the bytes between two delimiters.
    fn chunk(&self, chunk: &[u8]) -> Vec<Line> {
        let mut out = Vec::new();
        if chunk.is_empty() {
            return out;
        }
        let whole = match self.record(chunk) {
            Record::Lines(lines) => return lines,
            other => other,
        };
        // Foreign text followed by a record: find where the record starts
        // (within the longest a record can be).
        for start in chunk.len().saturating_sub(MAX_RECORD).max(1)..chunk.len().saturating_sub(1) {
            if !is_channel_byte(chunk[start + 1]) {
                continue;
            }
            if let Record::Lines(lines) = self.record(&chunk[start..]) {
                raw_lines(self.raw_label, &chunk[..start], &mut out);
                out.extend(lines);
                return out;
            }
        }
        match whole {
            Record::Malformed(channel, payload) => out.push(Line {
                image: channel_name(channel).to_owned(),
                level: None,
                timestamp: None,
                text: format!(
                    "<undecodable defmt frame ({} bytes): {}; is the ELF stale?>",
                    payload.len(),
                    hex(&payload)
                ),
            }),
            _ => raw_lines(self.raw_label, chunk, &mut out),
        }
        out
    }

    fn record(&self, chunk: &[u8]) -> Record {
        let mut scratch = vec![0u8; chunk.len().max(1)];
        let Some((channel, payload)) = decode_record(chunk, &mut scratch) else {
            return Record::NotDecodable;
        };
        if !is_channel_byte(channel) {
            return Record::NotDecodable;
        }
        let image = channel_name(channel);
        if channel & TEXT != 0 {
            let mut lines = Vec::new();
            text_lines(&String::from_utf8_lossy(payload), &mut |text| {
                lines.push(Line {
                    image: image.to_owned(),
                    level: None,
                    timestamp: None,
                    text,
                })
            });
            return Record::Lines(lines);
        }
        let Some(table) = self.tables.get(&channel) else {
            return Record::NotDecodable;
        };
        // defmt-decoder formats with a few internal unwraps; a hostile or
        // garbled frame must cost its own line, never the whole run.
        let decoded = catch_unwind(AssertUnwindSafe(|| {
            let (frame, consumed) = table.decode(payload).ok()?;
            if consumed != payload.len() {
                return None;
            }
            Some(Line {
                image: image.to_owned(),
                level: frame
                    .level()
                    .map(|level| format!("{level:?}").to_uppercase()),
                timestamp: frame.display_timestamp().map(|t| t.to_string()),
                text: frame.display_message().to_string(),
            })
        }));
        match decoded {
            Ok(Some(line)) => Record::Lines(vec![line]),
            _ => Record::Malformed(channel, payload.to_vec()),
        }
    }
}

/// A byte that can be the channel of a record: an image, with or without the text flag.
fn is_channel_byte(b: u8) -> bool {
    channel_name(b) != "?"
}

/// Splits text into lines, dropping control characters and empty lines.
fn text_lines(text: &str, emit: &mut dyn FnMut(String)) {
    for line in text.split('\n') {
        let clean: String = line
            .chars()
            .map(|c| if c == '\t' { ' ' } else { c })
            .filter(|&c| !c.is_control() && c != char::REPLACEMENT_CHARACTER)
            .collect();
        let clean = clean.trim();
        if !clean.is_empty() {
            emit(clean.to_owned());
        }
    }
}

fn raw_lines(label: &str, bytes: &[u8], out: &mut Vec<Line>) {
    text_lines(&String::from_utf8_lossy(bytes), &mut |text| {
        out.push(Line::raw(label, text))
    });
}

fn hex(bytes: &[u8]) -> String {
    const SHOWN: usize = 32;
    let mut s: String = bytes
        .iter()
        .take(SHOWN)
        .map(|b| format!("{b:02x}"))
        .collect();
    if bytes.len() > SHOWN {
        s.push_str("..");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_ipc::trace::{GUEST, NSHOST, REALM, ROOT, encode_record};

    fn record(channel: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = [0u8; MAX_RECORD];
        let n = encode_record(channel, payload, &mut out);
        out[..n].to_vec()
    }

    /// A table as defmt's ELF parser would build it, without an ELF:
    /// index 1 `info "case {=str}: PASS"`, index 2 `error "panic: {=u32}"`,
    /// 3 a println; timestamps `{=u64:us}`.
    fn table() -> Table {
        let json = r#"{
            "timestamp": {"string": {"tag": "Timestamp", "string": "{=u64:us}"}, "raw_symbol": "ts"},
            "entries": {
                "1": {"string": {"tag": "Info", "string": "case {=str}: PASS"}, "raw_symbol": "a"},
                "2": {"string": {"tag": "Error", "string": "panic: {=u32}"}, "raw_symbol": "b"},
                "3": {"string": {"tag": "Println", "string": "hello"}, "raw_symbol": "c"}
            },
            "bitflags": {},
            "encoding": "Raw"
        }"#;
        serde_json::from_str(json).expect("table json")
    }

    fn decoder_with_nshost_table() -> Decoder {
        Decoder::with_tables(BTreeMap::from([(NSHOST, table())]))
    }

    /// A raw-encoded frame: index u16, timestamp u64 (us), then `str` args as
    /// u32 length + bytes.
    fn frame(index: u16, micros: u64, arg: &[u8]) -> Vec<u8> {
        let mut f = index.to_le_bytes().to_vec();
        f.extend_from_slice(&micros.to_le_bytes());
        f.extend_from_slice(arg);
        f
    }

    fn str_arg(s: &str) -> Vec<u8> {
        let mut a = (s.len() as u32).to_le_bytes().to_vec();
        a.extend_from_slice(s.as_bytes());
        a
    }

    #[test]
    fn decodes_defmt_frames_with_level_and_timestamp() {
        let mut d = decoder_with_nshost_table();
        let mut bytes = record(NSHOST, &frame(1, 1_500_000, &str_arg("psci_version")));
        bytes.extend(record(NSHOST, &frame(2, 7, &42u32.to_le_bytes())));
        bytes.extend(record(NSHOST, &frame(3, 8, &[])));
        let lines = d.feed(&bytes);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[0].image, "nshost");
        assert_eq!(lines[0].level.as_deref(), Some("INFO"));
        assert_eq!(lines[0].text, "case psci_version: PASS");
        assert!(
            lines[0].timestamp.as_deref().unwrap().starts_with("1.5"),
            "{:?}",
            lines[0].timestamp
        );
        assert!(lines[1].is_error());
        assert_eq!(lines[1].text, "panic: 42");
        assert_eq!(lines[2].level, None);
        assert_eq!(lines[2].text, "hello");
    }

    #[test]
    fn display_pads_level_and_shows_image() {
        let line = Line {
            image: "realm".into(),
            level: Some("INFO".into()),
            timestamp: None,
            text: "message".into(),
        };
        assert_eq!(line.to_string(), "[realm] INFO  message");
        let line = Line {
            timestamp: Some("0.000001".into()),
            level: Some("ERROR".into()),
            ..line
        };
        assert_eq!(line.to_string(), "[realm] 0.000001 ERROR message");
        assert_eq!(
            Line::raw(RAW_IMAGE, "NOTICE: x".into()).to_string(),
            "[uart] NOTICE: x"
        );
    }

    #[test]
    fn text_records_become_lines_of_their_image() {
        let mut d = Decoder::new(Vec::new()).unwrap();
        let lines = d.feed(&record(GUEST | TEXT, b"guest says hi\r\nsecond line\n"));
        let shown: Vec<String> = lines.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["[guest] guest says hi", "[guest] second line"]);
    }

    #[test]
    fn record_split_across_feeds_is_reassembled() {
        let mut d = decoder_with_nshost_table();
        let mut bytes = record(REALM | TEXT, b"split text");
        bytes.extend(record(NSHOST, &frame(1, 3, &str_arg("cpu_on_all"))));
        for cut in 1..bytes.len() {
            let mut d2 = decoder_with_nshost_table();
            let mut lines = d2.feed(&bytes[..cut]);
            lines.extend(d2.feed(&bytes[cut..]));
            lines.extend(d2.finish());
            let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
            assert_eq!(
                texts,
                ["split text", "case cpu_on_all: PASS"],
                "cut at {cut}"
            );
        }
        // Byte by byte too.
        let mut lines = Vec::new();
        for b in &bytes {
            lines.extend(d.feed(std::slice::from_ref(b)));
        }
        assert_eq!(lines.len(), 2);
    }

    #[test]
    fn junk_and_unknown_channels_degrade_to_raw_lines() {
        let mut d = decoder_with_nshost_table();
        // A defmt record for a channel without a table (no root ELF given).
        let mut bytes = record(ROOT, b"ab\x01cd");
        // A channel no image has.
        bytes.extend(record(0x09, b"xyz"));
        // Junk, then a good record.
        bytes.extend_from_slice(&[0xff, 0x13, b'j', b'u', b'n', b'k', 0]);
        bytes.extend(record(ROOT | TEXT, b"after junk"));
        let lines = d.feed(&bytes);
        let shown: Vec<String> = lines.iter().map(ToString::to_string).collect();
        assert_eq!(shown[..2], ["[uart] abcd", "[uart] xyz"], "{shown:?}");
        assert!(shown.iter().all(|l| !l.chars().any(char::is_control)));
        assert!(shown.iter().any(|l| l.contains("junk")));
        assert_eq!(shown.last().unwrap(), "[root] after junk");
        assert!(
            lines[..lines.len() - 1]
                .iter()
                .all(|l| l.image == RAW_IMAGE)
        );
    }

    #[test]
    fn malformed_frame_of_a_known_channel_is_reported_not_panicked_on() {
        let mut d = decoder_with_nshost_table();
        // Unknown index, truncated argument, trailing bytes.
        for payload in [
            frame(99, 0, &[]),
            frame(1, 0, &[5, 0, 0, 0, b'a']),
            frame(3, 0, &[1, 2]),
        ] {
            let lines = d.feed(&record(NSHOST, &payload));
            assert_eq!(lines.len(), 1);
            assert_eq!(lines[0].image, "nshost");
            assert!(
                lines[0].text.starts_with("<undecodable defmt frame"),
                "{}",
                lines[0].text
            );
        }
        assert!(d.feed(&[0, 0, 0]).is_empty());
    }

    #[test]
    fn foreign_console_text_shows_line_by_line_and_resyncs() {
        let mut d = Decoder::new(Vec::new()).unwrap();
        // TF-RMM style plain text: no delimiter, yet complete lines come out.
        let lines = d.feed(b"Booting RMM v.0.6.0\r\nRMM-EL3 Interface v.0.8\r\npartial");
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["Booting RMM v.0.6.0", "RMM-EL3 Interface v.0.8"]);
        // The partial line, glued to a record, is split off it.
        let lines = d.feed(&record(REALM | TEXT, b"ours"));
        let shown: Vec<String> = lines.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["[uart] partial", "[realm] ours"]);
        let lines = d.feed(b"tail without newline");
        assert!(lines.is_empty());
        assert_eq!(
            d.finish(),
            [Line::raw(RAW_IMAGE, "tail without newline".into())]
        );
    }

    #[test]
    fn endless_junk_without_delimiter_is_bounded() {
        let mut d = Decoder::new(Vec::new()).unwrap();
        let junk = vec![0x02u8; 3 * MAX_RAW_LINE];
        let lines = d.feed(&junk);
        assert!(lines.is_empty()); // nothing printable
        assert!(d.pending.len() < MAX_RAW_LINE);
    }

    #[test]
    fn new_rejects_bad_input() {
        assert!(Decoder::new(vec![(REALM, b"not an elf".to_vec())]).is_err());
        assert!(Decoder::new(vec![(REALM | TEXT, Vec::new())]).is_err());
        assert!(Decoder::new(vec![(0x33, Vec::new())]).is_err());
    }

    #[test]
    fn console_label_marks_an_os_console_beside_our_records() {
        let mut d = decoder_with_nshost_table().with_raw_label(CONSOLE_IMAGE);
        let mut bytes = b"[    0.000000] Booting Linux on physical CPU 0x0\n".to_vec();
        bytes.extend(record(NSHOST, &frame(1, 3, &str_arg("wfi"))));
        bytes.extend_from_slice(b"/ # poweroff\n");
        let mut lines = d.feed(&bytes);
        // A line's last byte could start a record: it waits for the next
        // byte, or the end of the stream.
        lines.extend(d.finish());
        let shown: Vec<String> = lines.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "[console] [    0.000000] Booting Linux on physical CPU 0x0",
                "[nshost] 0.000003 INFO  case wfi: PASS",
                "[console] / # poweroff"
            ]
        );
    }
}
