use crds::config::{Charset, EncodingConfig, NationalLanguage, SplitMethod};
use proptest::prelude::*;

use super::plan::{candidates, plan, plan_with};
use super::split::join;
use super::RequestedEncoding;

/// GSM default and extension characters.
const GSM: &[char] = &[
    'a', 'Z', '0', ' ', '@', '\n', '\r', 'é', 'Ø', '€', '{', '}', '[', '\\', '^', '~', '|',
    '\u{0C}', 'ß', 'ü', 'Ω',
];
/// Characters of the national tables.
const NATIONAL: &[char] = &[
    'ı', 'ş', 'Ğ', 'İ', 'ç', 'á', 'ú', 'ã', 'õ', 'ê', 'Ô', 'º', 'ª', '`', '∞',
];
/// Latin-1 only.
const LATIN1: &[char] = &['½', 'ÿ', '¬', '©'];
/// UCS-2 only (BMP and surrogate pairs).
const WIDE: &[char] = &['я', '中', '😀', '🇬'];

fn pool() -> impl Strategy<Value = Vec<char>> {
    prop_oneof![
        Just(GSM.to_vec()),
        Just([GSM, NATIONAL].concat()),
        Just([GSM, LATIN1].concat()),
        Just([GSM, NATIONAL, LATIN1, WIDE].concat()),
    ]
}

fn text() -> impl Strategy<Value = String> {
    pool().prop_flat_map(|pool| {
        prop::collection::vec(prop::sample::select(pool), 0..900)
            .prop_map(|v| v.into_iter().collect::<String>())
    })
}

fn method() -> impl Strategy<Value = (SplitMethod, u8)> {
    prop_oneof![
        Just((SplitMethod::Udh, 8)),
        Just((SplitMethod::Udh, 16)),
        Just((SplitMethod::Sar, 8)),
        Just((SplitMethod::Payload, 8)),
    ]
}

fn forced() -> impl Strategy<Value = RequestedEncoding> {
    prop_oneof![
        Just(RequestedEncoding::Auto),
        Just(RequestedEncoding::Gsm7),
        Just(RequestedEncoding::Latin1),
        Just(RequestedEncoding::Ucs2),
    ]
}

/// What a packed text reads back as: a final CR on an octet boundary is doubled
/// (TS 23.038 6.1.2.3.1), which only the last segment can show.
fn expected_packed(text: &str, joined: &str) -> bool {
    joined == text || (text.ends_with('\r') && joined == format!("{text}\r"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn split_then_join_returns_the_text(
        text in text(),
        (split, reference_bits) in method(),
        forced in forced(),
        packed in any::<bool>(),
        national in prop::sample::subsequence(vec![NationalLanguage::Turkish, NationalLanguage::Spanish, NationalLanguage::Portuguese], 0..=3),
        reference in any::<u16>(),
    ) {
        let config = EncodingConfig {
            accepted: vec![Charset::Gsm7, Charset::Latin1, Charset::Ucs2],
            national_languages: national,
            split,
            reference_bits,
            gsm7_packed: packed,
        };
        match plan(&text, &config, forced, reference) {
            Ok(p) => {
                prop_assert!(p.segment_count() <= 255);
                for s in &p.segments {
                    if split != SplitMethod::Payload {
                        prop_assert!(s.air_octets(packed) <= 140, "{} octets", s.air_octets(packed));
                        prop_assert!(s.short_message().len() <= 254);
                    }
                }
                // No candidate alone needs fewer segments than the chosen one.
                let policy = super::SplitPolicy::from_config(&config).unwrap();
                for c in candidates(&config, forced).unwrap() {
                    if let Ok(alone) = plan_with(&text, &[c], &policy, reference) {
                        prop_assert!(alone.segment_count() >= p.segment_count(), "{c} beats {}", p.encoding);
                    }
                }
                let joined = join(&p.segments, packed).unwrap();
                if packed && matches!(p.encoding, super::TextEncoding::Gsm7(_)) {
                    prop_assert!(expected_packed(&text, &joined), "{:?} != {:?}", joined, text);
                } else {
                    prop_assert_eq!(joined, text);
                }
            }
            Err(super::PlanError::Unencodable(u)) => {
                prop_assert!(forced != RequestedEncoding::Auto && forced != RequestedEncoding::Ucs2);
                prop_assert_eq!(text.chars().nth(u.position), Some(u.character));
            }
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }
}
