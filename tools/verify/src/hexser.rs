//! Serde helpers for the JSON forms: 64-bit words as `0x` hex strings (or
//! plain JSON numbers), byte strings as hex.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serializer};

/// A JSON word: a number, or a string in hex (`0x...`) or decimal.
#[derive(Deserialize)]
#[serde(untagged)]
enum WordForm {
    Number(u64),
    Text(String),
}

/// Parses `0x`-prefixed hex or decimal, allowing `_` separators.
pub fn parse_word(text: &str) -> Result<u64, String> {
    let cleaned: String = text.trim().chars().filter(|&c| c != '_').collect();
    let parsed = match cleaned
        .strip_prefix("0x")
        .or_else(|| cleaned.strip_prefix("0X"))
    {
        Some(hex_digits) => u64::from_str_radix(hex_digits, 16),
        None => cleaned.parse::<u64>(),
    };
    parsed.map_err(|_| format!("{text:?} is not a 64-bit number (hex with 0x, or decimal)"))
}

fn word_of(form: WordForm) -> Result<u64, String> {
    match form {
        WordForm::Number(n) => Ok(n),
        WordForm::Text(t) => parse_word(&t),
    }
}

/// `u64` fields: written as `"0x..."`, read from a number or a string.
pub mod word {
    use super::*;

    pub fn serialize<S: Serializer>(value: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{value:#x}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        word_of(WordForm::deserialize(d)?).map_err(de::Error::custom)
    }
}

/// `u8` fields: written as numbers, read like words.
pub mod byte {
    use super::*;

    pub fn serialize<S: Serializer>(value: &u8, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(*value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
        let word = word_of(WordForm::deserialize(d)?).map_err(de::Error::custom)?;
        u8::try_from(word).map_err(|_| de::Error::custom(format!("{word} does not fit in 8 bits")))
    }
}

/// `Option<u64>` fields.
pub mod opt_word {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => s.serialize_str(&format!("{v:#x}")),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        Option::<WordForm>::deserialize(d)?
            .map(word_of)
            .transpose()
            .map_err(de::Error::custom)
    }
}

/// `Vec<u64>` fields.
pub mod word_vec {
    use super::*;
    use serde::ser::SerializeSeq;

    pub fn serialize<S: Serializer>(values: &[u64], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(values.len()))?;
        for v in values {
            seq.serialize_element(&format!("{v:#x}"))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
        Vec::<WordForm>::deserialize(d)?
            .into_iter()
            .map(word_of)
            .collect::<Result<_, _>>()
            .map_err(de::Error::custom)
    }
}

/// Decodes hex, allowing whitespace and an optional `0x` prefix.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let cleaned: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let digits = cleaned
        .strip_prefix("0x")
        .or_else(|| cleaned.strip_prefix("0X"))
        .unwrap_or(&cleaned);
    hex::decode(digits).map_err(|e| format!("not hex: {e}"))
}

/// `Option<[u8; 64]>` fields as a hex string of exactly 64 bytes.
pub mod opt_hex64 {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Option<[u8; 64]>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => s.serialize_str(&hex::encode(v)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[u8; 64]>, D::Error> {
        let Some(text) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        let bytes = parse_hex(&text).map_err(de::Error::custom)?;
        let len = bytes.len();
        bytes
            .try_into()
            .map(Some)
            .map_err(|_| de::Error::custom(format!("expected 64 bytes of hex, got {len}")))
    }
}

/// Byte fields serialized as lowercase hex strings.
pub fn bytes<S: Serializer, B: AsRef<[u8]>>(value: &B, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(value.as_ref()))
}

/// A list of byte strings serialized as hex strings.
pub fn bytes_list<S: Serializer, B: AsRef<[u8]>>(values: &[B], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(values.len()))?;
    for v in values {
        seq.serialize_element(&hex::encode(v.as_ref()))?;
    }
    seq.end()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_parse_in_hex_and_decimal() {
        assert_eq!(parse_word("0x4000_0000"), Ok(0x4000_0000));
        assert_eq!(parse_word("4096"), Ok(4096));
        assert_eq!(parse_word("0xFFFFFFFFFFFFFFFF"), Ok(u64::MAX));
        assert!(parse_word("0x1_0000_0000_0000_0000").is_err());
        assert!(parse_word("ten").is_err());
    }

    #[test]
    fn hex_allows_prefix_and_spaces() {
        assert_eq!(parse_hex("0xab cd"), Ok(vec![0xab, 0xcd]));
        assert!(parse_hex("abc").is_err());
    }
}
