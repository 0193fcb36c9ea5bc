//! The trace wire format: how every image multiplexes its records on the
//! board's trace UART.
//!
//! A record is `COBS(channel || payload)` followed by a single `0x00`. The
//! channel names the image; `payload` is one raw-encoded defmt frame, or UTF-8
//! text when the channel has [`TEXT`] set (guest consoles, foreign firmware).
//! A decoder resynchronises at every `0x00`, so a garbled record costs only
//! itself.

/// Image channels.
pub const ROOT: u8 = 1;
pub const REALM: u8 = 2;
pub const NSHOST: u8 = 3;
pub const GUEST: u8 = 4;
/// Set on a channel whose payload is UTF-8 text rather than a defmt frame.
pub const TEXT: u8 = 0x80;

/// Largest payload a record may carry.
pub const MAX_PAYLOAD: usize = 480;
/// Largest encoded record, delimiter included.
pub const MAX_RECORD: usize = cobs_max(MAX_PAYLOAD + 1) + 1;

const fn cobs_max(len: usize) -> usize {
    len + len / 254 + 1
}

/// Human name of a channel (without the text flag).
pub fn channel_name(channel: u8) -> &'static str {
    match channel & !TEXT {
        ROOT => "root",
        REALM => "realm",
        NSHOST => "nshost",
        GUEST => "guest",
        _ => "?",
    }
}

/// Encodes one record into `out`; returns its length (delimiter included).
/// A payload longer than [`MAX_PAYLOAD`] is cut there.
pub fn encode_record(channel: u8, payload: &[u8], out: &mut [u8; MAX_RECORD]) -> usize {
    let payload = &payload[..payload.len().min(MAX_PAYLOAD)];
    let mut encoder = cobs::CobsEncoder::new(&mut out[..MAX_RECORD - 1]);
    // Sizes are bounded above, so the encoder cannot run out of room.
    let _ = encoder.push(&[channel]);
    let _ = encoder.push(payload);
    let len = encoder.finalize();
    out[len] = 0;
    len + 1
}

/// Decodes one record (the bytes between two delimiters) into `scratch`;
/// returns the channel and payload, or None when it is not a valid record.
pub fn decode_record<'s>(frame: &[u8], scratch: &'s mut [u8]) -> Option<(u8, &'s [u8])> {
    let len = cobs::decode(frame, scratch).ok()?.frame_size();
    let (&channel, payload) = scratch[..len].split_first()?;
    Some((channel, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_carry_no_zero_inside() {
        let payload: [u8; 300] = core::array::from_fn(|i| (i % 7) as u8);
        let mut out = [0u8; MAX_RECORD];
        let n = encode_record(REALM, &payload, &mut out);
        assert_eq!(out[n - 1], 0);
        assert!(!out[..n - 1].contains(&0));
        let mut scratch = [0u8; MAX_RECORD];
        let (ch, back) = decode_record(&out[..n - 1], &mut scratch).unwrap();
        assert_eq!(ch, REALM);
        assert_eq!(back, &payload[..]);
    }

    #[test]
    fn oversize_payload_is_cut_and_junk_is_rejected() {
        let payload = [1u8; MAX_PAYLOAD + 50];
        let mut out = [0u8; MAX_RECORD];
        let n = encode_record(ROOT | TEXT, &payload, &mut out);
        let mut scratch = [0u8; MAX_RECORD];
        let (ch, back) = decode_record(&out[..n - 1], &mut scratch).unwrap();
        assert_eq!((ch, back.len()), (ROOT | TEXT, MAX_PAYLOAD));
        assert_eq!(channel_name(ch), "root");
        assert!(decode_record(&[], &mut scratch).is_none());
    }
}
