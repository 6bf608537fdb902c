//! Plans and splits arbitrary text under arbitrary policies: it must never panic, every
//! segment must respect the size limits, and joining the segments must give the text back.
#![no_main]

use connector::protocol::text::{join, plan, RequestedEncoding, PlanError, TextEncoding};
use crds::config::{Charset, EncodingConfig, NationalLanguage, SplitMethod};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let mut accepted = vec![Charset::Gsm7];
    if flags & 1 != 0 {
        accepted.push(Charset::Latin1);
    }
    if flags & 2 != 0 {
        accepted.push(Charset::Ucs2);
    }
    let national_languages = [
        NationalLanguage::Turkish,
        NationalLanguage::Spanish,
        NationalLanguage::Portuguese,
    ]
    .into_iter()
    .filter(|_| flags & 4 != 0)
    .collect();
    let split = match (flags >> 3) & 3 {
        0 => SplitMethod::Udh,
        1 => SplitMethod::Sar,
        _ => SplitMethod::Payload,
    };
    let packed = flags & 0x20 != 0;
    let config = EncodingConfig {
        accepted,
        national_languages,
        split,
        reference_bits: if flags & 0x40 != 0 { 16 } else { 8 },
        gsm7_packed: packed,
    };
    let forced = if flags & 0x80 != 0 {
        RequestedEncoding::Gsm7
    } else {
        RequestedEncoding::Auto
    };
    match plan(&text, &config, forced, u16::from(flags)) {
        Ok(p) => {
            assert!(p.segment_count() <= 255);
            for s in &p.segments {
                if split != SplitMethod::Payload {
                    assert!(
                        s.air_octets(packed) <= 140,
                        "{} octets",
                        s.air_octets(packed)
                    );
                }
            }
            let joined = join(&p.segments, packed).expect("planned segments must join");
            let gsm_packed = packed && matches!(p.encoding, TextEncoding::Gsm7(_));
            let doubled_cr = gsm_packed && text.ends_with('\r') && joined == format!("{text}\r");
            assert!(joined == text || doubled_cr, "{joined:?} != {text:?}");
        }
        Err(PlanError::Unencodable(u)) => {
            assert_eq!(text.chars().nth(u.position), Some(u.character));
        }
        Err(PlanError::Split(_)) | Err(PlanError::NoEncoding) | Err(PlanError::NotAccepted(_)) => {}
    }
});
