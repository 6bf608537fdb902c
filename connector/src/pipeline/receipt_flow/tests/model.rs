//! A model-based test of receipt correlation over the real PostgreSQL and NATS: random
//! operators (submit id forms of the field, receipt ids in the same or a converted form,
//! `auto` or a fixed configuration), receipts in random order (before and after their submit
//! is recorded, duplicated, unknown ids). Invariant: every receipt is published, either on its
//! own message or uncorrelated, never on another message; where the form is knowable, every
//! receipt of a submitted message ends on that message, with one final event per message.

use super::*;
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{RngExt, SeedableRng};
use std::collections::{HashMap, HashSet};

/// How an operator writes its submit_sm_resp ids.
#[derive(Clone, Copy, Debug)]
enum SubmitIds {
    /// 1, 2, 3, ...
    SequentialDecimal,
    /// 0000000001, ... (decimal with leading zeros).
    PaddedDecimal,
    /// Random 32-bit values in upper-case hex, with leading zeros to 8 digits.
    HexUpper,
    /// Random 32-bit values in lower-case hex.
    HexLower,
    /// Hex ids that happen to hold only digits (sequential hex of 0x1000.., without letters).
    HexDigitsOnly,
    /// UUIDs.
    Uuid,
    /// Random 64-bit values in decimal.
    Decimal64,
}

/// How its receipts write the id.
#[derive(Clone, Copy, Debug, PartialEq)]
enum ReceiptIds {
    /// The same id (letter case flipped, leading zeros dropped where the id is hex).
    Same,
    /// The submit id's hex value in decimal (submit ids in hex).
    HexToDecimal,
    /// The submit id's decimal value in hex (submit ids in decimal).
    DecimalToHex,
}

#[derive(Clone, Copy, Debug)]
struct Operator {
    submits: SubmitIds,
    receipts: ReceiptIds,
    configured: ReceiptIdForm,
}

impl Operator {
    /// Whether every receipt of a submitted message can be attributed: the form is the same,
    /// or configured, or (auto) converted in an id space where the as-is reading never names
    /// another submit (random 32/64-bit ids, where as-is twins practically never exist).
    fn knowable(&self) -> bool {
        match (self.receipts, self.configured) {
            (ReceiptIds::Same, _) => true,
            (_, ReceiptIdForm::Auto) => matches!(
                self.submits,
                SubmitIds::HexUpper | SubmitIds::HexLower | SubmitIds::Decimal64
            ),
            _ => true,
        }
    }
}

fn submit_id(kind: SubmitIds, i: u64, rng: &mut StdRng) -> String {
    match kind {
        SubmitIds::SequentialDecimal => (i + 1).to_string(),
        SubmitIds::PaddedDecimal => format!("{:010}", i + 1),
        SubmitIds::HexUpper => format!("{:08X}", rng.random::<u32>() | 0x1000_0000),
        SubmitIds::HexLower => format!("{:x}", rng.random::<u32>() | 0x1000_0000),
        SubmitIds::HexDigitsOnly => {
            // The i-th number whose hex digits are all decimal digits, from 0x1000.
            let mut n = 0x1000u64;
            let mut left = i;
            loop {
                if format!("{n:x}").bytes().all(|b| b.is_ascii_digit()) {
                    if left == 0 {
                        break format!("{n:x}");
                    }
                    left -= 1;
                }
                n += 1;
            }
        }
        SubmitIds::Uuid => format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            rng.random::<u32>(),
            rng.random::<u16>(),
            rng.random::<u16>() & 0xfff,
            rng.random::<u16>() & 0xfff,
            rng.random::<u64>() & 0xffff_ffff_ffff
        ),
        SubmitIds::Decimal64 => rng.random::<u64>().max(1 << 40).to_string(),
    }
}

fn receipt_id(submit: &str, kind: ReceiptIds) -> String {
    let hex = submit.bytes().all(|b| b.is_ascii_hexdigit());
    match kind {
        ReceiptIds::Same if hex => {
            let trimmed = submit.trim_start_matches('0');
            let flipped: String = trimmed
                .chars()
                .map(|c| {
                    if c.is_ascii_uppercase() {
                        c.to_ascii_lowercase()
                    } else {
                        c.to_ascii_uppercase()
                    }
                })
                .collect();
            if flipped.is_empty() {
                "0".into()
            } else {
                flipped
            }
        }
        ReceiptIds::Same => submit.to_uppercase(),
        ReceiptIds::HexToDecimal => u64::from_str_radix(submit, 16)
            .map(|n| n.to_string())
            .unwrap_or_else(|_| submit.to_string()),
        ReceiptIds::DecimalToHex => submit
            .parse::<u64>()
            .map(|n| format!("{n:X}"))
            .unwrap_or_else(|_| submit.to_string()),
    }
}

fn random_operator(rng: &mut StdRng) -> Operator {
    let submits = *[
        SubmitIds::SequentialDecimal,
        SubmitIds::PaddedDecimal,
        SubmitIds::HexUpper,
        SubmitIds::HexLower,
        SubmitIds::HexDigitsOnly,
        SubmitIds::Uuid,
        SubmitIds::Decimal64,
    ]
    .choose(rng)
    .unwrap_or(&SubmitIds::SequentialDecimal);
    let decimal = matches!(
        submits,
        SubmitIds::SequentialDecimal | SubmitIds::PaddedDecimal | SubmitIds::Decimal64
    );
    let hex = matches!(
        submits,
        SubmitIds::HexUpper | SubmitIds::HexLower | SubmitIds::HexDigitsOnly
    );
    let receipts = match rng.random_range(0..3) {
        1 if hex => ReceiptIds::HexToDecimal,
        2 if decimal => ReceiptIds::DecimalToHex,
        _ => ReceiptIds::Same,
    };
    // A converted form over small ids (sequential, or hex made of digits) cannot be told from
    // as-is by any evidence: receipt "22" is submit "22" as-is and submit "34" converted, and
    // the as-is reading wins. Such operators must configure their form
    // (docs/encodings-and-receipts.md); `auto` is drawn for the others.
    let small_ids = matches!(
        submits,
        SubmitIds::SequentialDecimal | SubmitIds::PaddedDecimal | SubmitIds::HexDigitsOnly
    );
    let configured = if rng.random_bool(0.5) && !(small_ids && receipts != ReceiptIds::Same) {
        ReceiptIdForm::Auto
    } else {
        match receipts {
            ReceiptIds::Same => ReceiptIdForm::AsIs,
            ReceiptIds::HexToDecimal => ReceiptIdForm::HexToDecimal,
            ReceiptIds::DecimalToHex => ReceiptIdForm::DecimalToHex,
        }
    };
    Operator {
        submits,
        receipts,
        configured,
    }
}

/// One step of a scenario.
enum Step {
    /// The submit of message `i` is recorded.
    Submit(usize),
    /// A receipt arrives: its id, stat and token (the message it belongs to, if any).
    Receipt(String, &'static str, Option<usize>),
}

async fn run_scenario(env: &Env, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let operator = random_operator(&mut rng);
    let op = unique("model");
    let n = rng.random_range(20..40);
    let submits: Vec<String> = (0..n)
        .map(|i| submit_id(operator.submits, i as u64, &mut rng))
        .collect();
    let mut steps: Vec<Step> = Vec::new();
    let mut tokens: HashMap<String, Option<usize>> = HashMap::new();
    for (i, s) in submits.iter().enumerate() {
        steps.push(Step::Submit(i));
        let stat = if rng.random_bool(0.8) {
            "DELIVRD"
        } else {
            "UNDELIV"
        };
        let copies = if rng.random_bool(0.2) { 2 } else { 1 };
        for _ in 0..copies {
            steps.push(Step::Receipt(
                receipt_id(s, operator.receipts),
                stat,
                Some(i),
            ));
        }
    }
    for u in 0..rng.random_range(1..5) {
        steps.push(Step::Receipt(
            format!("{}", 900_000_000 + u),
            "DELIVRD",
            None,
        ));
    }
    // Random order, except that most receipts come after their submit: shuffle, then move
    // four in five of the early ones behind their submit.
    steps.shuffle(&mut rng);
    let position = |steps: &[Step], i: usize| {
        steps
            .iter()
            .position(|s| matches!(s, Step::Submit(j) if *j == i))
            .unwrap_or(0)
    };
    let mut k = 0;
    while k < steps.len() {
        let early = match &steps[k] {
            Step::Receipt(_, _, Some(i)) => position(&steps, *i) > k,
            _ => false,
        };
        if early && rng.random_bool(0.8) {
            let step = steps.remove(k);
            if let Step::Receipt(_, _, Some(i)) = &step {
                let at = position(&steps, *i) + 1;
                steps.insert(at, step);
            }
            continue;
        }
        k += 1;
    }

    let forms = Arc::new(IdForms::new(operator.configured, ReceiptIdScope::Endpoint));
    let events = |settle: Duration| {
        ReceiptEvents::new(
            &op,
            env.writer.clone(),
            env.db.pool.clone(),
            env.publisher.clone(),
            Arc::new(Metrics::new()),
            Duration::from_secs(3600),
            forms.clone(),
        )
        .with_settle(settle)
    };
    // While submits are still coming, no unconfirmed match has settled.
    let live = events(Duration::from_secs(3600));
    for (t, step) in steps.iter().enumerate() {
        match step {
            Step::Submit(i) => {
                forms.observe_submit(EndpointRole::Primary, &submits[*i]);
                env.writer
                    .record_submit(SegmentSubmit {
                        trace_parent: None,
                        operator_id: op.clone(),
                        message_id: format!("m{i}"),
                        segment: Segment { index: 1, count: 1 },
                        outcome: SubmitOutcome::Submitted {
                            smsc_message_id: submits[*i].clone(),
                            endpoint: Some(EndpointRole::Primary),
                        },
                        attempts: 1,
                        concat_ref: None,
                        submitted_at: Utc::now(),
                        metadata: BTreeMap::new(),
                    })
                    .await
                    .await
                    .unwrap();
            }
            Step::Receipt(id, stat, owner) => {
                let token = format!("t{}", tokens.len());
                let token = match owner {
                    // Copies of one message's receipt share its token (and event id).
                    Some(i) => tokens
                        .iter()
                        .find(|(_, o)| **o == Some(*i))
                        .map(|(t, _)| t.clone())
                        .unwrap_or(token),
                    None => format!("u{t}"),
                };
                tokens.insert(token.clone(), *owner);
                let mut f = facts(id, stat);
                f.err = Some(token);
                assert_eq!(
                    live.handle(f, EndpointRole::Primary, Instant::now()).await,
                    ReceiptAnswer::Ok
                );
            }
        }
    }
    // Every submit is recorded: kept receipts have settled.
    let settled = events(Duration::ZERO);
    for _ in 0..3 {
        settled.sweep_pending(1000).await.unwrap();
    }
    // The waiting time ends for what is left.
    sqlx::query("UPDATE smpp.pending_receipts SET expires_at = now() WHERE operator_id = $1")
        .bind(&op)
        .execute(&env.db.pool)
        .await
        .unwrap();
    settled.sweep_pending(1000).await.unwrap();

    let published: Vec<DlrEvent> = env
        .stored()
        .await
        .into_iter()
        .filter(|e| e.operator_id == op)
        .collect();
    let context = format!("seed {seed}: {operator:?}, submits {submits:?}");
    let mut seen: HashSet<String> = HashSet::new();
    let mut finals: HashMap<String, usize> = HashMap::new();
    for e in &published {
        let token = e.err.clone().unwrap_or_default();
        let owner = tokens.get(&token).copied().flatten();
        if let Some(m) = &e.message_id {
            assert_eq!(
                Some(m.clone()),
                owner.map(|i| format!("m{i}")),
                "receipt {token} put on the wrong message: {e:?}; {context}"
            );
            let i = owner.unwrap_or_default();
            assert_eq!(
                e.smsc_message_id.as_deref(),
                Some(submits[i].as_str()),
                "{context}"
            );
            if e.is_final {
                *finals.entry(m.clone()).or_default() += 1;
            }
        }
        seen.insert(token);
    }
    for (token, owner) in &tokens {
        assert!(
            seen.contains(token),
            "receipt {token} ({owner:?}) lost; {context}"
        );
    }
    if operator.knowable() {
        for (i, submit) in submits.iter().enumerate() {
            assert_eq!(
                finals.get(&format!("m{i}")),
                Some(&1),
                "m{i} ({submit}): one final event; {context}; {published:?}"
            );
        }
    }
}

#[tokio::test]
async fn receipts_land_on_their_own_message_or_uncorrelated_never_on_another() {
    let env = Env::new().await;
    let base: u64 = std::env::var("MODEL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    for k in 0..16 {
        run_scenario(&env, base.wrapping_add(k)).await;
    }
    env.finish().await;
}
