//! Strict CBOR reading for the token: one item per buffer, claim maps
//! without duplicate labels, and type errors that name the claim.

use super::{Part, TokenError};
use ciborium::Value;

/// Decodes exactly one CBOR item from `bytes`; `what` names the buffer
/// in errors.
pub fn decode_one(bytes: &[u8], what: &str) -> Result<Value, TokenError> {
    let mut rest = bytes;
    match ciborium::de::from_reader::<Value, _>(&mut rest) {
        Ok(value) if rest.is_empty() => Ok(value),
        Ok(_) => Err(TokenError::TrailingData {
            what: what.to_string(),
            extra: rest.len(),
        }),
        Err(ciborium::de::Error::Io(_)) => Err(TokenError::Truncated {
            what: what.to_string(),
            len: bytes.len(),
        }),
        Err(ciborium::de::Error::Syntax(at)) => Err(TokenError::MalformedCbor {
            what: what.to_string(),
            detail: format!("invalid CBOR at byte {at}"),
        }),
        Err(ciborium::de::Error::Semantic(at, msg)) => Err(TokenError::MalformedCbor {
            what: what.to_string(),
            detail: match at {
                Some(at) => format!("{msg} at byte {at}"),
                None => msg,
            },
        }),
        Err(ciborium::de::Error::RecursionLimitExceeded) => Err(TokenError::MalformedCbor {
            what: what.to_string(),
            detail: "nested too deeply".into(),
        }),
    }
}

/// What kind of CBOR item `v` is, for error messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Integer(_) => "an integer",
        Value::Bytes(_) => "a byte string",
        Value::Float(_) => "a float",
        Value::Text(_) => "a text string",
        Value::Bool(_) => "a boolean",
        Value::Null => "null",
        Value::Tag(..) => "a tagged item",
        Value::Array(_) => "an array",
        Value::Map(_) => "a map",
        _ => "an unknown item",
    }
}

/// An integer map key as i64, if it is one.
pub fn int_label(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(i) => i64::try_from(i128::from(*i)).ok(),
        _ => None,
    }
}

/// A claims map split by label. Integer labels are unique (a duplicate
/// is an error); other keys are kept as text for reporting.
pub struct Claims {
    part: Part,
    entries: Vec<(i64, Value)>,
    other_keys: Vec<String>,
}

impl Claims {
    pub fn from_value(part: Part, value: Value) -> Result<Self, TokenError> {
        let Value::Map(pairs) = value else {
            return Err(TokenError::Cose {
                part,
                detail: format!("the payload must be a map of claims, got {}", kind(&value)),
            });
        };
        let mut entries: Vec<(i64, Value)> = Vec::with_capacity(pairs.len());
        let mut other_keys = Vec::new();
        for (key, value) in pairs {
            match int_label(&key) {
                Some(label) => {
                    if entries.iter().any(|(seen, _)| *seen == label) {
                        return Err(TokenError::DuplicateClaim { part, label });
                    }
                    entries.push((label, value));
                }
                None => {
                    let shown = match &key {
                        Value::Text(t) => format!("{t:?}"),
                        other => format!("<{}>", kind(other)),
                    };
                    if other_keys.contains(&shown) {
                        return Err(TokenError::Cose {
                            part,
                            detail: format!("claim key {shown} appears twice"),
                        });
                    }
                    other_keys.push(shown);
                }
            }
        }
        Ok(Claims {
            part,
            entries,
            other_keys,
        })
    }

    /// Removes and returns claim `label`, if present.
    pub fn take(&mut self, label: i64) -> Option<Value> {
        let at = self.entries.iter().position(|(l, _)| *l == label)?;
        Some(self.entries.remove(at).1)
    }

    /// Removes and returns a mandatory claim.
    pub fn require(&mut self, label: i64) -> Result<Value, TokenError> {
        self.take(label).ok_or(TokenError::MissingClaim {
            part: self.part,
            label,
        })
    }

    /// The labels not taken, for reporting claims outside the profile.
    pub fn leftover(self) -> Vec<String> {
        self.entries
            .into_iter()
            .map(|(label, _)| label.to_string())
            .chain(self.other_keys)
            .collect()
    }
}

/// Builds the "claim has the wrong shape" error.
pub fn invalid(part: Part, label: i64, problem: impl Into<String>) -> TokenError {
    TokenError::InvalidClaim {
        part,
        label,
        problem: problem.into(),
    }
}

pub fn bytes(part: Part, label: i64, v: Value) -> Result<Vec<u8>, TokenError> {
    match v {
        Value::Bytes(b) => Ok(b),
        other => Err(invalid(
            part,
            label,
            format!("must be a byte string, got {}", kind(&other)),
        )),
    }
}

pub fn text(part: Part, label: i64, v: Value) -> Result<String, TokenError> {
    match v {
        Value::Text(t) => Ok(t),
        other => Err(invalid(
            part,
            label,
            format!("must be a text string, got {}", kind(&other)),
        )),
    }
}

/// A byte string of one of `sizes` bytes.
pub fn sized_bytes(
    part: Part,
    label: i64,
    v: Value,
    sizes: &[usize],
) -> Result<Vec<u8>, TokenError> {
    let b = bytes(part, label, v)?;
    if sizes.contains(&b.len()) {
        return Ok(b);
    }
    let allowed = match sizes {
        [one] => one.to_string(),
        [init @ .., last] => format!(
            "{} or {last}",
            init.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        [] => "no".into(),
    };
    Err(invalid(
        part,
        label,
        format!("must be {allowed} bytes, got {}", b.len()),
    ))
}

/// A byte string of exactly N bytes.
pub fn array_bytes<const N: usize>(
    part: Part,
    label: i64,
    v: Value,
) -> Result<[u8; N], TokenError> {
    let b = sized_bytes(part, label, v, &[N])?;
    let mut out = [0u8; N];
    out.copy_from_slice(&b);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_item_exactly() {
        assert_eq!(decode_one(&[0x01], "x"), Ok(Value::Integer(1.into())));
        assert_eq!(
            decode_one(&[0x01, 0x02], "x"),
            Err(TokenError::TrailingData {
                what: "x".into(),
                extra: 1
            })
        );
        assert!(matches!(
            decode_one(&[0x42, 0x01], "x"),
            Err(TokenError::Truncated { .. })
        ));
        assert!(matches!(
            decode_one(&[], "x"),
            Err(TokenError::Truncated { .. })
        ));
        assert!(matches!(
            decode_one(&[0xff], "x"),
            Err(TokenError::MalformedCbor { .. })
        ));
        // 1000 nested arrays.
        let deep = [0x81u8; 1000];
        assert!(decode_one(&deep, "x").is_err());
    }

    #[test]
    fn sizes_are_listed_in_errors() {
        let e =
            sized_bytes(Part::Realm, 44238, Value::Bytes(vec![0; 7]), &[32, 48, 64]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "realm token: claim 44238 (RIM) must be 32, 48 or 64 bytes, got 7"
        );
    }
}
