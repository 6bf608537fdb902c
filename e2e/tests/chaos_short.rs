//! The short fault suite (issue 14, docs/reliability.md): every implemented fault with a few
//! hundred messages at a low rate; each must lose nothing and count every duplicate. The long
//! campaign is `cargo run -p e2e --bin chaos`.

use std::time::Duration;

use e2e::chaos::{self, Fault, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_is_survived_with_nothing_lost_and_duplicates_counted() {
    e2e::harness::init_logging();
    let opts = Options {
        rate: 150,
        messages: 300,
        outage: Duration::from_secs(4),
        settle_timeout: Duration::from_secs(60),
        window: 64,
        capture_limit: None,
    };
    let rows = chaos::run_campaign(&Fault::ALL, &opts).await;
    let table = chaos::report::render(&rows);
    println!("{table}");
    assert_eq!(rows.len(), Fault::ALL.len());
    for r in &rows {
        assert!(r.passed(), "{} failed:\n{table}", r.fault);
        if r.skipped.is_none() {
            assert_eq!(
                r.published, opts.messages,
                "{}: every command published",
                r.fault
            );
            assert!(r.max_tps > 0, "{}: the SMSC received submits", r.fault);
        }
    }
    let malformed = rows.iter().find(|r| r.fault == "malformed-burst");
    assert!(malformed.is_some_and(|r| r.note.starts_with("40 malformed")));
}
