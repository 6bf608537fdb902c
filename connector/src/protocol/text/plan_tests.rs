use crds::config::{Charset, EncodingConfig, NationalLanguage, SplitMethod};

use super::plan::{candidates, plan};
use super::split::{join, SplitError, UserData};
use super::udh::Udh;
use super::*;

fn config() -> EncodingConfig {
    EncodingConfig::default()
}

fn with(f: impl FnOnce(&mut EncodingConfig)) -> EncodingConfig {
    let mut c = config();
    f(&mut c);
    c
}

fn payload_len(s: &Segment) -> usize {
    let bytes = s.user_data.bytes();
    if s.esm_udhi {
        let (_, body) = Udh::parse(bytes).unwrap();
        body.len()
    } else {
        bytes.len()
    }
}

#[test]
fn exactly_160_gsm_characters_is_one_message() {
    let text = "a".repeat(160);
    let p = plan(&text, &config(), RequestedEncoding::Auto, 7).unwrap();
    assert_eq!(p.encoding, TextEncoding::Gsm7(GsmTables::DEFAULT));
    assert_eq!(p.data_coding, 0x00);
    assert_eq!(p.segment_count(), 1);
    let s = &p.segments[0];
    assert!(!s.esm_udhi);
    assert_eq!(s.short_message().len(), 160);
    assert_eq!(s.sar, None);
}

#[test]
fn gsm_161_characters_is_two_segments_of_153_and_8() {
    let text = "a".repeat(161);
    let p = plan(&text, &config(), RequestedEncoding::Auto, 0x1A7).unwrap();
    assert_eq!(p.segment_count(), 2);
    let s1 = &p.segments[0];
    assert!(s1.esm_udhi);
    assert_eq!(
        &s1.short_message()[..6],
        &[0x05, 0x00, 0x03, 0xA7, 0x02, 0x01]
    );
    assert_eq!(payload_len(s1), 153);
    assert_eq!(
        &p.segments[1].short_message()[..6],
        &[0x05, 0x00, 0x03, 0xA7, 0x02, 0x02]
    );
    assert_eq!(payload_len(&p.segments[1]), 8);
    assert_eq!(join(&p.segments, false).unwrap(), text);
}

#[test]
fn an_escape_pair_at_152_153_moves_to_the_next_segment() {
    // 152 characters, then '€' whose escape would be septet 152 and code septet 153 (0-based)
    // of a 153-septet segment: the pair moves whole.
    let text = format!("{}€{}", "a".repeat(152), "b".repeat(20));
    let p = plan(&text, &config(), RequestedEncoding::Auto, 1).unwrap();
    assert_eq!(p.segment_count(), 2);
    let first = &p.segments[0].short_message()[6..];
    assert_eq!(first.len(), 152);
    assert!(first.iter().all(|&b| b == 0x61));
    let second = &p.segments[1].short_message()[6..];
    assert_eq!(&second[..2], &[0x1B, 0x65]);
    assert_eq!(join(&p.segments, false).unwrap(), text);
    // One character earlier the pair ends exactly on septet 153.
    let text = format!("{}€{}", "a".repeat(151), "b".repeat(20));
    let p = plan(&text, &config(), RequestedEncoding::Auto, 1).unwrap();
    let first = &p.segments[0].short_message()[6..];
    assert_eq!(first.len(), 153);
    assert_eq!(&first[151..], &[0x1B, 0x65]);
    assert_eq!(join(&p.segments, false).unwrap(), text);
}

#[test]
fn escapes_count_twice_in_a_single_message() {
    let text = "€".repeat(80);
    assert_eq!(
        plan(&text, &config(), RequestedEncoding::Auto, 0)
            .unwrap()
            .segment_count(),
        1
    );
    let text = "€".repeat(81);
    let p = plan(&text, &config(), RequestedEncoding::Auto, 0).unwrap();
    assert_eq!(p.segment_count(), 2);
    assert_eq!(payload_len(&p.segments[0]), 152);
}

#[test]
fn ucs2_70_is_one_message_and_71_is_two() {
    let text = "я".repeat(70);
    let p = plan(&text, &config(), RequestedEncoding::Auto, 0).unwrap();
    assert_eq!(p.encoding, TextEncoding::Ucs2);
    assert_eq!(p.data_coding, 0x08);
    assert_eq!(p.segment_count(), 1);
    assert_eq!(p.segments[0].short_message().len(), 140);
    let text = "я".repeat(71);
    let p = plan(&text, &config(), RequestedEncoding::Auto, 0).unwrap();
    assert_eq!(p.segment_count(), 2);
    assert_eq!(payload_len(&p.segments[0]), 134);
    assert_eq!(payload_len(&p.segments[1]), 8);
    assert_eq!(join(&p.segments, false).unwrap(), text);
}

#[test]
fn an_emoji_at_the_67_unit_boundary_is_not_cut() {
    // 66 characters then an emoji (two UTF-16 units): 68 units do not fit in 67.
    let text = format!("{}😀{}", "я".repeat(66), "ж".repeat(10));
    let p = plan(&text, &config(), RequestedEncoding::Auto, 0).unwrap();
    assert_eq!(p.segment_count(), 2);
    let first = &p.segments[0].short_message()[6..];
    assert_eq!(first.len(), 132);
    let second = &p.segments[1].short_message()[6..];
    assert_eq!(&second[..4], &[0xD8, 0x3D, 0xDE, 0x00]);
    assert_eq!(join(&p.segments, false).unwrap(), text);
    // 65 characters then the emoji fill exactly 67 units.
    let text = format!("{}😀{}", "я".repeat(65), "ж".repeat(10));
    let p = plan(&text, &config(), RequestedEncoding::Auto, 0).unwrap();
    let first = &p.segments[0].short_message()[6..];
    assert_eq!(first.len(), 134);
    assert_eq!(&first[130..], &[0xD8, 0x3D, 0xDE, 0x00]);
    assert_eq!(join(&p.segments, false).unwrap(), text);
}

#[test]
fn at_most_255_segments() {
    let text = "a".repeat(255 * 153);
    let p = plan(&text, &config(), RequestedEncoding::Auto, 9).unwrap();
    assert_eq!(p.segment_count(), 255);
    assert_eq!(p.segments[254].index, 255);
    assert_eq!(p.segments[254].count, 255);
    let text = "a".repeat(255 * 153 + 1);
    assert_eq!(
        plan(&text, &config(), RequestedEncoding::Auto, 9),
        Err(PlanError::Split(SplitError::TooManySegments {
            needed: 256
        }))
    );
}

#[test]
fn sixteen_bit_references_take_one_more_octet() {
    let c = with(|c| c.reference_bits = 16);
    let text = "a".repeat(200);
    let p = plan(&text, &c, RequestedEncoding::Auto, 0xBEEF).unwrap();
    assert_eq!(p.segment_count(), 2);
    assert_eq!(
        &p.segments[0].short_message()[..7],
        &[0x06, 0x08, 0x04, 0xBE, 0xEF, 0x02, 0x01]
    );
    assert_eq!(payload_len(&p.segments[0]), 152);
    assert_eq!(join(&p.segments, false).unwrap(), text);
}

#[test]
fn sar_segments_carry_tlv_values_and_no_udh() {
    let c = with(|c| c.split = SplitMethod::Sar);
    let text = "b".repeat(400);
    let p = plan(&text, &c, RequestedEncoding::Auto, 0x1234).unwrap();
    assert_eq!(p.segment_count(), 3);
    for (i, s) in p.segments.iter().enumerate() {
        assert!(!s.esm_udhi);
        assert_eq!(
            s.sar,
            Some(Sar {
                reference: 0x1234,
                total: 3,
                seq: i as u8 + 1
            })
        );
    }
    assert_eq!(p.segments[0].short_message().len(), 152);
    assert_eq!(join(&p.segments, false).unwrap(), text);
    // A short text is one plain message, without SAR.
    let p = plan("hi", &c, RequestedEncoding::Auto, 1).unwrap();
    assert_eq!(p.segments[0].sar, None);
}

#[test]
fn payload_mode_sends_the_whole_message_once() {
    let c = with(|c| c.split = SplitMethod::Payload);
    let text = "c".repeat(1000);
    let p = plan(&text, &c, RequestedEncoding::Auto, 1).unwrap();
    assert_eq!(p.segment_count(), 1);
    let s = &p.segments[0];
    assert!(s.short_message().is_empty());
    assert_eq!(s.message_payload().map(<[u8]>::len), Some(1000));
    assert!(matches!(s.user_data, UserData::MessagePayload(_)));
    assert_eq!(join(&p.segments, false).unwrap(), text);
    let huge = "c".repeat(65_536);
    assert_eq!(
        plan(&huge, &c, RequestedEncoding::Auto, 1),
        Err(PlanError::Split(SplitError::PayloadTooLong {
            octets: 65_536
        }))
    );
}

#[test]
fn latin1_wins_when_it_needs_fewer_segments() {
    let c = with(|c| c.accepted = vec![Charset::Gsm7, Charset::Latin1, Charset::Ucs2]);
    // 100 '[' take 200 septets in GSM-7 (two segments) but 100 octets in Latin-1.
    let text = "[".repeat(100);
    let p = plan(&text, &c, RequestedEncoding::Auto, 0).unwrap();
    assert_eq!(p.encoding, TextEncoding::Latin1);
    assert_eq!(p.data_coding, 0x03);
    assert_eq!(p.segments[0].short_message(), text.as_bytes());
    // Equal segment counts: GSM-7 is preferred.
    let p = plan("[[", &c, RequestedEncoding::Auto, 0).unwrap();
    assert_eq!(p.encoding, TextEncoding::Gsm7(GsmTables::DEFAULT));
    // Without Latin-1 accepted, the same text stays GSM-7.
    let p = plan(&text, &config(), RequestedEncoding::Auto, 0).unwrap();
    assert_eq!(p.encoding, TextEncoding::Gsm7(GsmTables::DEFAULT));
    assert_eq!(p.segment_count(), 2);
}

#[test]
fn latin1_for_characters_outside_gsm() {
    let c = with(|c| c.accepted = vec![Charset::Gsm7, Charset::Latin1, Charset::Ucs2]);
    let p = plan("Größe: 5 ½ m", &c, RequestedEncoding::Auto, 0).unwrap();
    assert_eq!(p.encoding, TextEncoding::Latin1);
    let p = plan("Größe: 5 m", &c, RequestedEncoding::Auto, 0).unwrap();
    assert_eq!(p.encoding, TextEncoding::Gsm7(GsmTables::DEFAULT));
}

#[test]
fn turkish_uses_national_tables_when_configured() {
    let text = "Işık ağacı";
    let p = plan(text, &config(), RequestedEncoding::Auto, 0).unwrap();
    assert_eq!(p.encoding, TextEncoding::Ucs2);
    let c = with(|c| c.national_languages = vec![NationalLanguage::Turkish]);
    let p = plan(text, &c, RequestedEncoding::Auto, 0).unwrap();
    // Single shift alone carries it with a 4-octet UDH: the cheapest UDH wins the tie.
    assert_eq!(
        p.encoding,
        TextEncoding::Gsm7(GsmTables {
            locking: None,
            single: Some(NationalLanguage::Turkish)
        })
    );
    let s = &p.segments[0];
    assert!(s.esm_udhi);
    assert_eq!(&s.short_message()[..4], &[0x03, 0x24, 0x01, 0x01]);
    assert_eq!(join(&p.segments, false).unwrap(), text);
}

#[test]
fn turkish_locking_shift_when_it_saves_segments() {
    // 100 'ı' take 200 septets with the single shift, 100 with the locking shift.
    let text = "ı".repeat(100);
    let c = with(|c| c.national_languages = vec![NationalLanguage::Turkish]);
    let p = plan(&text, &c, RequestedEncoding::Auto, 0).unwrap();
    assert_eq!(
        p.encoding,
        TextEncoding::Gsm7(GsmTables {
            locking: Some(LockingShift::Turkish),
            single: None
        })
    );
    assert_eq!(p.segment_count(), 1);
    assert_eq!(
        &p.segments[0].short_message()[..4],
        &[0x03, 0x25, 0x01, 0x01]
    );
    assert_eq!(join(&p.segments, false).unwrap(), text);
}

#[test]
fn both_shift_tables_and_concatenation_share_the_udh() {
    // '∞' exists only in the Portuguese locking table, 'ı' only in Turkish tables: Portuguese
    // locking shift plus Turkish single shift, over several segments.
    let text = "ı∞ã".repeat(60);
    let c = with(|c| {
        c.national_languages = vec![NationalLanguage::Turkish, NationalLanguage::Portuguese]
    });
    let p = plan(&text, &c, RequestedEncoding::Gsm7, 3).unwrap();
    assert_eq!(
        p.encoding,
        TextEncoding::Gsm7(GsmTables {
            locking: Some(LockingShift::Portuguese),
            single: Some(NationalLanguage::Turkish)
        })
    );
    // 240 septets, (140 - 12) * 8 / 7 = 146 septets per segment.
    assert_eq!(p.segment_count(), 2);
    let udh = &p.segments[0].short_message()[..12];
    assert_eq!(
        udh,
        &[0x0B, 0x00, 0x03, 0x03, 0x02, 0x01, 0x25, 0x01, 0x03, 0x24, 0x01, 0x01]
    );
    assert!(p
        .segments
        .iter()
        .all(|s| s.short_message().len() - 12 <= 146));
    assert_eq!(payload_len(&p.segments[0]), 146);
    assert_eq!(join(&p.segments, false).unwrap(), text);
}

#[test]
fn spanish_and_portuguese_single_shifts() {
    let c = with(|c| {
        c.national_languages = vec![NationalLanguage::Spanish, NationalLanguage::Portuguese]
    });
    let p = plan("Canción: ¿Dónde está?", &c, RequestedEncoding::Auto, 0).unwrap();
    assert_eq!(
        p.encoding,
        TextEncoding::Gsm7(GsmTables {
            locking: None,
            single: Some(NationalLanguage::Spanish)
        })
    );
    let p = plan("Ação e coração", &c, RequestedEncoding::Auto, 0).unwrap();
    assert!(matches!(
        p.encoding,
        TextEncoding::Gsm7(GsmTables {
            single: Some(NationalLanguage::Portuguese),
            ..
        }) | TextEncoding::Gsm7(GsmTables {
            locking: Some(LockingShift::Portuguese),
            ..
        })
    ));
    assert_eq!(join(&p.segments, false).unwrap(), "Ação e coração");
}

#[test]
fn forced_encoding_errors_name_the_character_and_position() {
    let err = plan("Hello мир", &config(), RequestedEncoding::Gsm7, 0).unwrap_err();
    assert_eq!(
        err,
        PlanError::Unencodable(Unencodable {
            encoding: "GSM-7",
            character: 'м',
            position: 6
        })
    );
    assert!(err.to_string().contains("'м'"), "{err}");
    let c = with(|c| c.accepted = vec![Charset::Gsm7, Charset::Latin1, Charset::Ucs2]);
    let err = plan("naïve €", &c, RequestedEncoding::Latin1, 0).unwrap_err();
    assert_eq!(
        err,
        PlanError::Unencodable(Unencodable {
            encoding: "Latin-1",
            character: '€',
            position: 6
        })
    );
    assert_eq!(
        plan("x", &config(), RequestedEncoding::Latin1, 0),
        Err(PlanError::NotAccepted(Charset::Latin1))
    );
    let p = plan("plain", &config(), RequestedEncoding::Ucs2, 0).unwrap();
    assert_eq!(p.encoding, TextEncoding::Ucs2);
}

#[test]
fn auto_without_ucs2_reports_the_blocking_character() {
    let c = with(|c| c.accepted = vec![Charset::Gsm7]);
    let err = plan("ok 😀", &c, RequestedEncoding::Auto, 0).unwrap_err();
    assert!(matches!(
        err,
        PlanError::Unencodable(Unencodable {
            character: '😀',
            position: 3,
            ..
        })
    ));
}

#[test]
fn candidates_follow_the_preference_order() {
    let c = with(|c| {
        c.accepted = vec![Charset::Ucs2, Charset::Latin1, Charset::Gsm7];
        c.national_languages = vec![NationalLanguage::Spanish, NationalLanguage::Turkish];
    });
    let list = candidates(&c, RequestedEncoding::Auto).unwrap();
    assert_eq!(list[0], TextEncoding::Gsm7(GsmTables::DEFAULT));
    assert_eq!(list[list.len() - 2], TextEncoding::Latin1);
    assert_eq!(list[list.len() - 1], TextEncoding::Ucs2);
    assert!(list.contains(&TextEncoding::Gsm7(GsmTables {
        locking: Some(LockingShift::Turkish),
        single: Some(NationalLanguage::Spanish)
    })));
    assert!(!list.iter().any(|e| matches!(e, TextEncoding::Gsm7(GsmTables { locking: Some(l), .. }) if l.language() == NationalLanguage::Spanish)));
}

#[test]
fn packed_gsm_segments_use_fill_bits() {
    let c = with(|c| c.gsm7_packed = true);
    let p = plan(&"a".repeat(160), &c, RequestedEncoding::Auto, 0).unwrap();
    assert_eq!(p.segments[0].short_message().len(), 140);
    let text = "a".repeat(300);
    let p = plan(&text, &c, RequestedEncoding::Auto, 0).unwrap();
    assert_eq!(p.segment_count(), 2);
    // 6 UDH octets + 1 fill bit + 153 septets = 140 octets.
    assert_eq!(p.segments[0].short_message().len(), 140);
    assert_eq!(join(&p.segments, true).unwrap(), text);
}

#[test]
fn packed_segments_never_end_in_a_cr_on_an_octet_boundary() {
    let c = with(|c| c.gsm7_packed = true);
    // With fill 1, septet 153 ends on an octet boundary: put a CR there.
    let text = format!("{}\r{}", "a".repeat(152), "b".repeat(30));
    let p = plan(&text, &c, RequestedEncoding::Auto, 0).unwrap();
    assert_eq!(join(&p.segments, true).unwrap(), text);
}

#[test]
fn binary_splits_by_octets() {
    let data: Vec<u8> = (0..=255u8).cycle().take(300).collect();
    let policy = SplitPolicy::default();
    let segments = split_binary(&data, 0x04, &policy, 5).unwrap();
    assert_eq!(segments.len(), 3);
    assert_eq!(segments[0].short_message().len(), 140);
    let joined: Vec<u8> = segments
        .iter()
        .flat_map(|s| s.short_message()[6..].to_vec())
        .collect();
    assert_eq!(joined, data);
    assert_eq!(
        split_binary(&data[..140], 0x04, &policy, 5).unwrap().len(),
        1
    );
}

#[test]
fn invalid_reference_bits_are_an_error() {
    let c = with(|c| c.reference_bits = 12);
    assert_eq!(
        plan("x", &c, RequestedEncoding::Auto, 0),
        Err(PlanError::Split(SplitError::InvalidReferenceBits(12)))
    );
}

#[test]
fn decode_message_reads_udh_and_tables() {
    let c = with(|c| c.national_languages = vec![NationalLanguage::Turkish]);
    let p = plan("ışık", &c, RequestedEncoding::Auto, 0).unwrap();
    let s = &p.segments[0];
    let d = decode_message(s.data_coding, s.esm_udhi, s.short_message(), false).unwrap();
    assert_eq!(d.content, Content::Text("ışık".into()));
    assert!(d.udh.is_some());
    assert_eq!(
        decode_message(0x08, false, &[0x00], false),
        Err(DecodeError::Ucs2(ucs2::Ucs2DecodeError::OddLength(1)))
    );
    assert_eq!(
        decode_message(0x05, false, b"x", false),
        Err(DecodeError::UnsupportedDataCoding(0x05))
    );
    assert!(matches!(
        decode_message(0x00, true, &[0x05, 0x00, 0x03], false),
        Err(DecodeError::Udh(_))
    ));
    assert!(matches!(
        decode_message(0x00, true, &[0x03, 0x24, 0x01, 0x07, 0x41], false),
        Err(DecodeError::Udh(udh::UdhError::UnsupportedLanguage(7)))
    ));
    assert_eq!(
        decode_message(0x01, false, b"IA5 text", false)
            .unwrap()
            .content,
        Content::Text("IA5 text".into())
    );
    assert_eq!(
        decode_message(0xF4, false, &[1, 2, 3], false)
            .unwrap()
            .content,
        Content::Binary(vec![1, 2, 3])
    );
}

#[test]
fn ucs2_decode_rejects_lone_surrogates() {
    assert_eq!(
        ucs2::decode(&[0x00, 0x41, 0xD8, 0x3D]),
        Err(ucs2::Ucs2DecodeError::UnpairedSurrogate {
            offset: 2,
            unit: 0xD83D
        })
    );
    assert_eq!(
        ucs2::decode(&[0xDE, 0x00]),
        Err(ucs2::Ucs2DecodeError::UnpairedSurrogate {
            offset: 0,
            unit: 0xDE00
        })
    );
    assert_eq!(ucs2::decode(&ucs2::encode("a😀b")).unwrap(), "a😀b");
}

#[test]
fn latin1_and_ia5_round_trip() {
    let all: String = (0u32..=255).filter_map(char::from_u32).collect();
    assert_eq!(latin1::decode(&latin1::encode(&all).unwrap()), all);
    let ascii: String = (0u32..=127).filter_map(char::from_u32).collect();
    assert_eq!(ia5::decode(&ia5::encode(&ascii).unwrap()).unwrap(), ascii);
    assert_eq!(ia5::encode("é").unwrap_err().position, 0);
    assert_eq!(
        ia5::decode(&[0x41, 0xE9]),
        Err(ia5::Ia5DecodeError {
            offset: 1,
            value: 0xE9
        })
    );
}
