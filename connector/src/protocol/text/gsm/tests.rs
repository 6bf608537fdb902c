use super::pack::{fill_bits, pack, packed_len, unpack};
use super::*;

const LOCKINGS: [Option<LockingShift>; 3] = [
    None,
    Some(LockingShift::Turkish),
    Some(LockingShift::Portuguese),
];
const SINGLES: [Option<NationalLanguage>; 4] = [
    None,
    Some(NationalLanguage::Turkish),
    Some(NationalLanguage::Spanish),
    Some(NationalLanguage::Portuguese),
];

fn all_tables() -> Vec<GsmTables> {
    let mut out = Vec::new();
    for locking in LOCKINGS {
        for single in SINGLES {
            out.push(GsmTables { locking, single });
        }
    }
    out
}

#[test]
fn table_sizes_match_the_specification() {
    let count = |t: &[char; 128]| t.iter().filter(|c| **c != tables::NONE).count();
    assert_eq!(count(&tables::DEFAULT), 127);
    assert_eq!(count(&tables::TURKISH_LOCKING), 127);
    assert_eq!(count(&tables::PORTUGUESE_LOCKING), 127);
    assert_eq!(tables::DEFAULT_EXTENSION.len(), 10);
    assert_eq!(tables::TURKISH_SINGLE.len(), 17);
    assert_eq!(tables::SPANISH_SINGLE.len(), 19);
    assert_eq!(tables::PORTUGUESE_SINGLE.len(), 37);
    for t in [
        &tables::DEFAULT,
        &tables::TURKISH_LOCKING,
        &tables::PORTUGUESE_LOCKING,
    ] {
        assert_eq!(t[0x1B], tables::NONE);
        assert_eq!(t[0x0A], '\n');
        assert_eq!(t[0x0D], '\r');
        let mut seen: Vec<char> = t.iter().copied().filter(|c| *c != tables::NONE).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 127, "a locking table repeats a character");
    }
}

#[test]
fn spot_checks_of_well_known_cells() {
    assert_eq!(tables::DEFAULT[0x00], '@');
    assert_eq!(tables::DEFAULT[0x02], '$');
    assert_eq!(tables::DEFAULT[0x11], '_');
    assert_eq!(tables::DEFAULT[0x24], '¤');
    assert_eq!(tables::DEFAULT[0x40], '¡');
    assert_eq!(tables::DEFAULT[0x60], '¿');
    assert_eq!(tables::DEFAULT[0x7F], 'à');
    assert_eq!(tables::TURKISH_LOCKING[0x07], 'ı');
    assert_eq!(tables::TURKISH_LOCKING[0x40], 'İ');
    assert_eq!(tables::TURKISH_LOCKING[0x1C], 'Ş');
    assert_eq!(tables::PORTUGUESE_LOCKING[0x15], '∞');
    assert_eq!(tables::PORTUGUESE_LOCKING[0x7D], '`');
    assert_eq!(tables::PORTUGUESE_LOCKING[0x24], 'º');
    let gsm = GsmTables::DEFAULT;
    assert_eq!(gsm.encode("€").unwrap(), vec![0x1B, 0x65]);
    assert_eq!(gsm.encode("{}").unwrap(), vec![0x1B, 0x28, 0x1B, 0x29]);
    assert_eq!(gsm.encode("@£$").unwrap(), vec![0x00, 0x01, 0x02]);
}

#[test]
fn every_locking_cell_round_trips_in_every_combination() {
    for t in all_tables() {
        let table = t.locking_table();
        for (code, &ch) in table.iter().enumerate() {
            if ch == tables::NONE {
                continue;
            }
            assert_eq!(
                t.encode_char(ch),
                Some(GsmCode::Direct(code as u8)),
                "{t:?} {ch:?}"
            );
            let septets = t.encode(&ch.to_string()).unwrap();
            assert_eq!(t.decode(&septets).unwrap(), ch.to_string(), "{t:?} {ch:?}");
            assert_eq!(t.decode(&[code as u8]).unwrap(), ch.to_string());
        }
    }
}

#[test]
fn every_single_shift_cell_round_trips_in_every_combination() {
    for t in all_tables() {
        for &(code, ch) in t.single_table() {
            assert_eq!(
                t.decode(&[ESCAPE, code]).unwrap(),
                ch.to_string(),
                "{t:?} escape {code:#04x}"
            );
            let septets = t.encode(&ch.to_string()).unwrap();
            match t.encode_char(ch) {
                Some(GsmCode::Direct(c)) => assert_eq!(t.locking_table()[c as usize], ch),
                Some(GsmCode::Escaped(c)) => assert_eq!(c, code, "{t:?} {ch:?}"),
                None => panic!("{ch:?} not encodable with {t:?}"),
            }
            assert_eq!(t.decode(&septets).unwrap(), ch.to_string());
        }
    }
}

#[test]
fn national_characters_need_their_tables() {
    let gsm = GsmTables::DEFAULT;
    for ch in ['ı', 'ş', 'Ğ', 'á', 'ã', 'ê', 'ç'] {
        assert_eq!(gsm.encode_char(ch), None, "{ch}");
    }
    let turkish = GsmTables {
        locking: Some(LockingShift::Turkish),
        single: Some(NationalLanguage::Turkish),
    };
    let text = "Ağaç dalında ışık, şüphesiz İstanbul € {x}";
    let septets = turkish.encode(text).unwrap();
    assert_eq!(turkish.decode(&septets).unwrap(), text);
    let spanish = GsmTables {
        locking: None,
        single: Some(NationalLanguage::Spanish),
    };
    assert_eq!(spanish.encode("á").unwrap(), vec![0x1B, 0x61]);
    assert_eq!(spanish.encode("ñ").unwrap(), vec![0x7D]);
    let portuguese = GsmTables {
        locking: Some(LockingShift::Portuguese),
        single: None,
    };
    assert_eq!(portuguese.encode("ã").unwrap(), vec![0x7B]);
    assert_eq!(portuguese.encode_char('Ñ'), None);
}

#[test]
fn unencodable_names_character_and_position() {
    let err = GsmTables::DEFAULT.encode("ok 😀 no").unwrap_err();
    assert_eq!(err.character, '😀');
    assert_eq!(err.position, 3);
    assert!(err.to_string().contains("U+1F600"), "{err}");
    assert!(err.to_string().contains("position 3"), "{err}");
}

#[test]
fn decode_errors_are_typed() {
    let gsm = GsmTables::DEFAULT;
    assert_eq!(
        gsm.decode(&[0x41, 0x80]),
        Err(GsmDecodeError::NotASeptet {
            offset: 1,
            value: 0x80
        })
    );
    assert_eq!(
        gsm.decode(&[0x41, ESCAPE]),
        Err(GsmDecodeError::TruncatedEscape)
    );
    assert_eq!(
        gsm.decode(&[ESCAPE, 0xFF]),
        Err(GsmDecodeError::NotASeptet {
            offset: 1,
            value: 0xFF
        })
    );
    // Undefined extension code: the main table's character (TS 23.038 6.2.1.1).
    assert_eq!(gsm.decode(&[ESCAPE, 0x41]).unwrap(), "A");
    assert_eq!(gsm.decode(&[ESCAPE, ESCAPE]).unwrap(), " ");
}

/// Packs bit by bit, as TS 23.038 6.1.2.1.1 draws it.
fn reference_pack(septets: &[u8], fill: u8) -> Vec<u8> {
    let mut bits: Vec<u8> = vec![0; fill as usize];
    for s in septets {
        for b in 0..7 {
            bits.push((s >> b) & 1);
        }
    }
    if bits.len() % 8 == 1 {
        for b in 0..7 {
            bits.push((0x0D >> b) & 1);
        }
    }
    while bits.len() % 8 != 0 {
        bits.push(0);
    }
    bits.chunks(8)
        .map(|c| c.iter().enumerate().fold(0u8, |acc, (i, b)| acc | (b << i)))
        .collect()
}

#[test]
fn classic_packed_vector() {
    let septets = GsmTables::DEFAULT.encode("hellohello").unwrap();
    assert_eq!(
        pack(&septets, 0),
        vec![0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37]
    );
}

#[test]
fn packing_with_every_fill_from_0_to_6_matches_the_bit_layout() {
    let text = GsmTables::DEFAULT
        .encode("The quick brown fox jumps over 13 lazy dogs!")
        .unwrap();
    for fill in 0..=6u8 {
        for len in 1..text.len() {
            let septets = &text[..len];
            let packed = pack(septets, fill);
            assert_eq!(
                packed,
                reference_pack(septets, fill),
                "fill {fill} len {len}"
            );
            assert_eq!(
                packed.len(),
                packed_len(
                    len + usize::from((usize::from(fill) + 7 * len) % 8 == 1),
                    fill
                )
            );
            assert_eq!(unpack(&packed, fill), septets, "fill {fill} len {len}");
        }
    }
}

#[test]
fn fill_bits_after_udh_lengths() {
    // UDH octets (UDHL included) -> fill bits: 6 -> 1 (concat 8-bit), 7 -> 0 (16-bit).
    let expected = [
        (1, 6),
        (2, 5),
        (3, 4),
        (4, 3),
        (5, 2),
        (6, 1),
        (7, 0),
        (9, 5),
        (12, 2),
    ];
    for (udh, fill) in expected {
        assert_eq!(fill_bits(udh), fill, "udh {udh}");
    }
    assert_eq!(fill_bits(0), 0);
}

#[test]
fn seven_spare_bits_are_padded_with_cr_and_dropped() {
    let septets = GsmTables::DEFAULT.encode("1234567").unwrap();
    let packed = pack(&septets, 0);
    assert_eq!(packed.len(), 7);
    assert_eq!(packed[6] >> 1, 0x0D);
    assert_eq!(unpack(&packed, 0), septets);
}

#[test]
fn a_final_cr_on_an_octet_boundary_is_doubled() {
    let septets = GsmTables::DEFAULT.encode("1234567\r").unwrap();
    let packed = pack(&septets, 0);
    assert_eq!(packed.len(), 8);
    assert_eq!(
        GsmTables::DEFAULT.decode(&unpack(&packed, 0)).unwrap(),
        "1234567\r\r"
    );
}

#[test]
fn unpack_never_panics_on_short_input() {
    assert!(unpack(&[], 3).is_empty());
    assert!(unpack(&[0xFF], 6).is_empty());
    assert_eq!(unpack(&[0x41], 0), vec![0x41]);
}
