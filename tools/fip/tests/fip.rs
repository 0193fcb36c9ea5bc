//! Layout, round trip, editing and malformed-input tests of the FIP
//! reader/writer.

use rampart_fip::uuid::{
    self, EL3_RUNTIME_FIRMWARE_BL31, NON_TRUSTED_FIRMWARE_BL33, REALM_MONITOR_MGMT_FIRMWARE,
    TRUSTED_BOOT_FIRMWARE_BL2,
};
use rampart_fip::{Entry, Fip, FipError, TOC_HEADER_SERIAL_NUMBER, Toc};

const UNKNOWN: [u8; 16] = [0xa5; 16];

fn entry(uuid: [u8; 16], flags: u64, data: &[u8]) -> Entry {
    Entry {
        uuid,
        flags,
        data: data.to_vec(),
    }
}

/// Four images of awkward sizes, one unnamed, one with flags.
fn sample() -> Fip {
    Fip {
        serial_number: TOC_HEADER_SERIAL_NUMBER,
        flags: 0x0000_1234_0000_0000,
        entries: vec![
            entry(TRUSTED_BOOT_FIRMWARE_BL2, 0, &[0xb2; 7]),
            entry(EL3_RUNTIME_FIRMWARE_BL31, 0, &[0x31; 33]),
            entry(UNKNOWN, 0xf1a9, &[0x55; 1]),
            entry(REALM_MONITOR_MGMT_FIRMWARE, 0, &[0x7e; 100]),
        ],
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}

fn put_u64(bytes: &mut [u8], at: usize, value: u64) {
    bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

#[test]
fn round_trip_at_several_alignments() {
    let fip = sample();
    for align in [1, 2, 8, 16, 512, 4096] {
        let bytes = fip.to_bytes(align).unwrap();
        assert_eq!(Fip::parse(&bytes).unwrap(), fip, "align {align}");
        let toc = Toc::parse(&bytes).unwrap();
        assert_eq!(toc, fip.toc(align).unwrap(), "align {align}");
        assert_eq!(toc.end, bytes.len() as u64);
        assert_eq!(toc.end % align, 0, "align {align}");
        for e in &toc.entries {
            assert_eq!(e.offset % align, 0, "align {align}");
        }
        // Images follow each other in ToC order, right after the ToC.
        assert_eq!(
            toc.entries[0].offset,
            (16u64 + 5 * 40).next_multiple_of(align)
        );
        for pair in toc.entries.windows(2) {
            assert_eq!(
                pair[1].offset,
                (pair[0].offset + pair[0].size).next_multiple_of(align)
            );
        }
    }
}

/// Every byte of a two-image FIP, computed by hand from the header layout.
#[test]
fn layout_matches_hand_computed_offsets() {
    let mut fip = Fip::new();
    fip.set(EL3_RUNTIME_FIRMWARE_BL31, vec![1, 2, 3]);
    fip.set(REALM_MONITOR_MGMT_FIRMWARE, vec![9; 5]);
    let bytes = fip.to_bytes(16).unwrap();

    // Header 16 + two entries and the end marker, 40 each: 136 (0x88),
    // so the first image starts at 0x90; the second at 147 rounded up: 160;
    // the FIP ends at 165 rounded up: 176.
    assert_eq!(bytes.len(), 176);
    assert_eq!(&bytes[0..4], &[0x01, 0x00, 0x64, 0xaa]);
    assert_eq!(u32_at(&bytes, 0), 0xaa64_0001);
    assert_eq!(u32_at(&bytes, 4), 0x1234_5678);
    assert_eq!(u64_at(&bytes, 8), 0);

    assert_eq!(&bytes[16..32], &EL3_RUNTIME_FIRMWARE_BL31);
    assert_eq!(&bytes[16..20], &[0x47, 0xd4, 0x08, 0x6d]);
    assert_eq!(u64_at(&bytes, 32), 144);
    assert_eq!(u64_at(&bytes, 40), 3);
    assert_eq!(u64_at(&bytes, 48), 0);

    assert_eq!(&bytes[56..72], &REALM_MONITOR_MGMT_FIRMWARE);
    assert_eq!(u64_at(&bytes, 72), 160);
    assert_eq!(u64_at(&bytes, 80), 5);
    assert_eq!(u64_at(&bytes, 88), 0);

    // End marker: null UUID, offset = FIP size, size and flags 0.
    assert_eq!(&bytes[96..112], &[0; 16]);
    assert_eq!(u64_at(&bytes, 112), 176);
    assert_eq!(u64_at(&bytes, 120), 0);
    assert_eq!(u64_at(&bytes, 128), 0);

    // Gap between the ToC and the first image, images, padding.
    assert!(bytes[136..144].iter().all(|&b| b == 0));
    assert_eq!(&bytes[144..147], &[1, 2, 3]);
    assert!(bytes[147..160].iter().all(|&b| b == 0));
    assert_eq!(&bytes[160..165], &[9; 5]);
    assert!(bytes[165..176].iter().all(|&b| b == 0));

    // fiptool's default alignment packs images back to back.
    let packed = fip.to_bytes(1).unwrap();
    assert_eq!(packed.len(), 136 + 3 + 5);
    assert_eq!(u64_at(&packed, 32), 136);
    assert_eq!(u64_at(&packed, 72), 139);
    assert_eq!(u64_at(&packed, 112), 144);
}

#[test]
fn set_replaces_in_place_and_appends() {
    let mut fip = sample();
    let old = fip.set(UNKNOWN, vec![0xee; 9]).unwrap();
    assert_eq!(old, entry(UNKNOWN, 0xf1a9, &[0x55]));
    assert_eq!(fip.set(NON_TRUSTED_FIRMWARE_BL33, vec![0x33; 4]), None);

    let expected = vec![
        entry(TRUSTED_BOOT_FIRMWARE_BL2, 0, &[0xb2; 7]),
        entry(EL3_RUNTIME_FIRMWARE_BL31, 0, &[0x31; 33]),
        // Replacing resets the flags, as `fiptool update` does.
        entry(UNKNOWN, 0, &[0xee; 9]),
        entry(REALM_MONITOR_MGMT_FIRMWARE, 0, &[0x7e; 100]),
        entry(NON_TRUSTED_FIRMWARE_BL33, 0, &[0x33; 4]),
    ];
    assert_eq!(fip.entries, expected);
    assert_eq!(fip.flags, sample().flags);

    let reparsed = Fip::parse(&fip.to_bytes(8).unwrap()).unwrap();
    assert_eq!(reparsed, fip);
    assert_eq!(reparsed.get(&UNKNOWN).unwrap().data, [0xee; 9]);

    assert_eq!(
        fip.remove(&TRUSTED_BOOT_FIRMWARE_BL2).unwrap().data,
        [0xb2; 7]
    );
    assert!(fip.get(&TRUSTED_BOOT_FIRMWARE_BL2).is_none());
    assert_eq!(fip.entries.len(), 4);
}

/// The packed sample: header, 4 entries at 16 + 40 i, end marker at 176,
/// images from 216 (BL2 7 bytes, BL31 33, unknown 1, RMM 100), 357 bytes.
fn valid() -> Vec<u8> {
    let bytes = sample().to_bytes(1).unwrap();
    assert_eq!(bytes.len(), 216 + 7 + 33 + 1 + 100);
    bytes
}

const END_MARKER: usize = 16 + 4 * 40;

/// Offset of field `field` (0 uuid, 16 offset, 24 size, 32 flags) of entry `i`.
fn field(i: usize, field: usize) -> usize {
    16 + i * 40 + field
}

fn parse_err(bytes: &[u8]) -> FipError {
    Fip::parse(bytes).unwrap_err()
}

#[test]
fn malformed_inputs_give_their_error() {
    let good = valid();
    let len = good.len();
    let mut cases: Vec<(Vec<u8>, FipError)> = Vec::new();
    let mut patched = |patch: &dyn Fn(&mut Vec<u8>), err: FipError| {
        let mut bytes = good.clone();
        patch(&mut bytes);
        cases.push((bytes, err));
    };

    patched(&|b| b.truncate(15), FipError::TruncatedHeader { len: 15 });
    patched(&|b| b[3] = 0xab, FipError::BadMagic { found: 0xab64_0001 });
    patched(&|b| b[4..8].fill(0), FipError::ZeroSerial);
    patched(
        &|b| b.truncate(16 + 40 + 20),
        FipError::TruncatedToc {
            offset: 56,
            len: 76,
        },
    );
    patched(
        &|b| b.truncate(16 + 2 * 40),
        FipError::MissingEndMarker { len: 96 },
    );
    patched(
        &|b| put_u64(b, END_MARKER + 24, 1),
        FipError::EndMarkerNotEmpty { size: 1, flags: 0 },
    );
    patched(
        &|b| put_u64(b, END_MARKER + 32, 2),
        FipError::EndMarkerNotEmpty { size: 0, flags: 2 },
    );
    patched(
        &|b| b.push(0),
        FipError::EndMarkerMismatch {
            offset: len as u64,
            len: len as u64 + 1,
        },
    );
    patched(
        &|b| put_u64(b, END_MARKER + 16, 4096),
        FipError::EndMarkerMismatch {
            offset: 4096,
            len: len as u64,
        },
    );
    patched(
        &|b| put_u64(b, field(1, 24), 0),
        FipError::EmptyEntry { index: 1 },
    );
    patched(
        &|b| put_u64(b, field(3, 24), 101),
        FipError::EntryOutOfBounds {
            index: 3,
            offset: len as u64 - 100,
            size: 101,
            len: len as u64,
        },
    );
    patched(
        &|b| put_u64(b, field(0, 24), u64::MAX),
        FipError::EntryOutOfBounds {
            index: 0,
            offset: 216,
            size: u64::MAX,
            len: len as u64,
        },
    );
    patched(
        &|b| put_u64(b, field(2, 16), u64::MAX),
        FipError::EntryOutOfBounds {
            index: 2,
            offset: u64::MAX,
            size: 1,
            len: len as u64,
        },
    );
    patched(
        &|b| put_u64(b, field(0, 16), 200),
        FipError::EntryOverlapsToc {
            index: 0,
            offset: 200,
            toc_end: 216,
        },
    );
    patched(
        &|b| put_u64(b, field(2, 16), 216 + 6),
        FipError::OverlappingEntries {
            first: 0,
            second: 2,
        },
    );
    patched(
        &|b| {
            let rmm = b[field(3, 0)..field(3, 16)].to_vec();
            b[field(1, 0)..field(1, 16)].copy_from_slice(&rmm);
        },
        FipError::DuplicateUuid {
            uuid: REALM_MONITOR_MGMT_FIRMWARE,
            first: 1,
            second: 3,
        },
    );

    let mut messages = Vec::new();
    for (bytes, err) in &cases {
        assert_eq!(&parse_err(bytes), err);
        messages.push(err.to_string());
    }
    // Each error explains itself differently.
    messages.sort();
    messages.dedup();
    assert_eq!(messages.len(), cases.len());
}

#[test]
fn a_null_uuid_entry_ends_the_toc_early() {
    // Zeroing entry 2's UUID makes it the end marker: its offset (the
    // unknown image's) is not the FIP size.
    let mut bytes = valid();
    bytes[field(2, 0)..field(2, 16)].fill(0);
    assert!(matches!(
        parse_err(&bytes),
        FipError::EndMarkerNotEmpty { size: 1, .. }
    ));
}

#[test]
fn every_truncation_is_an_error() {
    for align in [1, 64] {
        let bytes = sample().to_bytes(align).unwrap();
        for len in 0..bytes.len() {
            assert!(
                Fip::parse(&bytes[..len]).is_err(),
                "align {align}, truncated to {len}"
            );
        }
    }
}

#[test]
fn corrupting_any_byte_never_panics() {
    let good = valid();
    for at in 0..END_MARKER + 40 {
        for bit in 0..8 {
            let mut bytes = good.clone();
            bytes[at] ^= 1 << bit;
            let _ = Fip::parse(&bytes);
        }
        let mut bytes = good.clone();
        bytes[at] = 0xff;
        let _ = Fip::parse(&bytes);
    }
}

#[test]
fn writer_refuses_what_the_reader_would() {
    let mut fip = sample();
    for align in [0, 3, 24] {
        assert_eq!(fip.to_bytes(align), Err(FipError::BadAlignment { align }));
    }
    fip.entries[2].data.clear();
    assert_eq!(fip.to_bytes(1), Err(FipError::EmptyEntry { index: 2 }));

    let mut fip = sample();
    fip.entries[1].uuid = uuid::NULL;
    assert_eq!(fip.to_bytes(1), Err(FipError::NullUuid { index: 1 }));

    let mut fip = sample();
    fip.entries.push(entry(UNKNOWN, 0, &[1]));
    assert_eq!(
        fip.to_bytes(1),
        Err(FipError::DuplicateUuid {
            uuid: UNKNOWN,
            first: 2,
            second: 4,
        })
    );

    let fip = sample();
    assert_eq!(fip.to_bytes(1 << 63), Err(FipError::TooLarge));
}

#[test]
fn empty_fip_round_trips() {
    let bytes = Fip::new().to_bytes(1).unwrap();
    assert_eq!(bytes.len(), 56);
    assert_eq!(u64_at(&bytes, 32), 56);
    assert_eq!(Fip::parse(&bytes).unwrap(), Fip::new());
}

/// The strings TF-A spells these UUIDs with (`bl31_uuid` in
/// `plat/arm/board/fvp/fdts/fvp_tb_fw_config.dts`), and the bytes of the
/// header's initialisers read in order for the RMM and BL33.
#[test]
fn uuid_strings_match_tf_a() {
    assert_eq!(
        uuid::to_string(&EL3_RUNTIME_FIRMWARE_BL31),
        "47d4086d-4cfe-9846-9b95-2950cbbd5a00"
    );
    assert_eq!(
        uuid::to_string(&REALM_MONITOR_MGMT_FIRMWARE),
        "6c0762a6-12f2-4b56-92cb-ba8f633606d9"
    );
    assert_eq!(
        uuid::to_string(&NON_TRUSTED_FIRMWARE_BL33),
        "d6d0eea7-fcea-d54b-9782-9934f234b6e4"
    );
    assert_eq!(
        uuid::to_string(&TRUSTED_BOOT_FIRMWARE_BL2),
        "5ff9ec0b-4d22-3e4d-a544-c39d81c73f0a"
    );
}

#[test]
fn known_table_names_the_images() {
    assert_eq!(uuid::KNOWN.len(), 34);
    assert_eq!(uuid::name_of(&EL3_RUNTIME_FIRMWARE_BL31), Some("soc-fw"));
    assert_eq!(uuid::name_of(&REALM_MONITOR_MGMT_FIRMWARE), Some("rmm-fw"));
    assert_eq!(uuid::name_of(&NON_TRUSTED_FIRMWARE_BL33), Some("nt-fw"));
    assert_eq!(uuid::name_of(&UNKNOWN), None);
    assert_eq!(uuid::name_of(&uuid::NON_TRUSTED_WORLD_KEY_CERT), None);
    assert_eq!(uuid::by_name("soc-fw"), Some(EL3_RUNTIME_FIRMWARE_BL31));
    assert_eq!(
        uuid::known(&REALM_MONITOR_MGMT_FIRMWARE)
            .unwrap()
            .description,
        "Realm Monitor Management Firmware"
    );

    for (i, k) in uuid::KNOWN.iter().enumerate() {
        assert_ne!(k.uuid, uuid::NULL, "{}", k.name);
        assert_eq!(uuid::parse(&uuid::to_string(&k.uuid)), Some(k.uuid));
        for other in &uuid::KNOWN[..i] {
            assert_ne!(k.uuid, other.uuid, "{} / {}", k.name, other.name);
            assert_ne!(k.name, other.name);
        }
    }
}

#[test]
fn uuid_strings_parse_back() {
    let upper = "47D4086D-4CFE-9846-9B95-2950CBBD5A00";
    assert_eq!(uuid::parse(upper), Some(EL3_RUNTIME_FIRMWARE_BL31));
    for bad in [
        "",
        "47d4086d4cfe98469b952950cbbd5a00",
        "47d4086d-4cfe-9846-9b95-2950cbbd5a0",
        "47d4086d-4cfe-9846-9b95-2950cbbd5a000",
        "47d4086d-4cfe-9846-9b95-2950cbbd5a0g",
        "47d4086d-4cfe-9846-9b9-52950cbbd5a00",
        "47d4086d-4cfe-9846-9b95-2950cbbd5a-0",
        "47d4086d-4cfe-9846-9b95-2950cbbd5aé",
    ] {
        assert_eq!(uuid::parse(bad), None, "{bad}");
    }
}

#[test]
fn toc_listing_names_entries() {
    let toc = Toc::parse(&valid()).unwrap();
    let text = toc.to_string();
    assert!(text.starts_with("FIP: 4 entries, 0x165 bytes, serial 0x12345678"));
    assert!(text.contains(
        "0x000000df  0x00000021  47d4086d-4cfe-9846-9b95-2950cbbd5a00  soc-fw (EL3 Runtime Firmware BL31)"
    ));
    assert!(text.contains("a5a5a5a5-a5a5-a5a5-a5a5-a5a5a5a5a5a5  (unknown)  flags 0xf1a9"));
    assert!(text.contains("rmm-fw (Realm Monitor Management Firmware)"));
    assert_eq!(text.lines().count(), 2 + 4);
}
