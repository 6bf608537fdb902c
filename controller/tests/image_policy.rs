//! The connector image allow-list: parsing of references and exact repository matching.

use controller::image_policy::{ImagePolicy, ImageRef, IMAGE_NOT_ALLOWED};

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn policy(entries: &[&str]) -> ImagePolicy {
    ImagePolicy::new(entries).expect("valid entries")
}

#[test]
fn references_are_split_and_normalised() {
    let r = ImageRef::parse("ghcr.io/ghasi/smpp-connector:0.1.0").expect("parses");
    assert_eq!(r.repository, "ghcr.io/ghasi/smpp-connector");
    assert_eq!(r.tag.as_deref(), Some("0.1.0"));
    assert_eq!(r.digest, None);

    let r =
        ImageRef::parse(&format!("ghcr.io/ghasi/smpp-connector:0.1.0@{DIGEST}")).expect("parses");
    assert_eq!(r.repository, "ghcr.io/ghasi/smpp-connector");
    assert_eq!(r.tag.as_deref(), Some("0.1.0"));
    assert_eq!(r.digest.as_deref(), Some(DIGEST));

    let r = ImageRef::parse("localhost:5000/team/conn").expect("parses");
    assert_eq!(r.repository, "localhost:5000/team/conn");
    assert_eq!(r.tag, None);

    for (short, full) in [
        ("busybox", "docker.io/library/busybox"),
        ("busybox:1.36", "docker.io/library/busybox"),
        ("library/busybox", "docker.io/library/busybox"),
        ("docker.io/busybox", "docker.io/library/busybox"),
        (
            "index.docker.io/library/busybox",
            "docker.io/library/busybox",
        ),
        ("someone/tool", "docker.io/someone/tool"),
        (
            "GHCR.IO/ghasi/smpp-connector",
            "ghcr.io/ghasi/smpp-connector",
        ),
        ("[::1]:5000/conn", "[::1]:5000/conn"),
    ] {
        assert_eq!(
            ImageRef::parse(short).expect(short).repository,
            full,
            "{short}"
        );
    }
}

#[test]
fn malformed_references_are_refused() {
    for bad in [
        "",
        " ",
        "ghcr.io/ghasi/Smpp-Connector",
        "ghcr.io/ghasi/smpp-connector:",
        "ghcr.io/ghasi/smpp-connector:bad/tag",
        "ghcr.io/ghasi/smpp-connector@sha256:short",
        "ghcr.io/ghasi/smpp-connector@",
        "ghcr.io//smpp-connector",
        "ghcr.io/ghasi/smpp-connector/",
        "ghcr.io/ghasi/-conn",
        "ghcr.io/ghasi/conn..x",
        "ghcr.io:port/ghasi/conn",
        "ghcr io/ghasi/conn",
        "ghcr.io/ghasi/conn:1 ",
    ] {
        assert!(ImageRef::parse(bad).is_err(), "{bad:?} parsed");
    }
}

#[test]
fn a_repository_entry_allows_exactly_that_repository_at_any_tag_or_digest() {
    let p = policy(&["ghcr.io/ghasi/smpp-connector"]);
    for ok in [
        "ghcr.io/ghasi/smpp-connector".to_string(),
        "ghcr.io/ghasi/smpp-connector:0.2.0".to_string(),
        format!("ghcr.io/ghasi/smpp-connector@{DIGEST}"),
        format!("ghcr.io/ghasi/smpp-connector:0.2.0@{DIGEST}"),
    ] {
        assert_eq!(p.check(&ok), Ok(()), "{ok}");
    }
    for refused in [
        "ghcr.io/ghasi/smpp-connector-evil:0.1.0",
        "ghcr.io/ghasi/smpp-connectorx",
        "ghcr.io/ghasi/smpp-connector/evil:0.1.0",
        "ghcr.io/ghasi/smpp:connector",
        "ghcr.io.evil.com/ghasi/smpp-connector:0.1.0",
        "evil.com/ghcr.io/ghasi/smpp-connector:0.1.0",
        "ghcr.io:443/ghasi/smpp-connector:0.1.0",
        "ghcr.io/ghasi/smpp-connector.evil.com/x",
        "docker.io/ghasi/smpp-connector",
        "ghasi/smpp-connector",
        "busybox",
    ] {
        let stall = p.check(refused).expect_err(refused);
        assert_eq!(stall.reason, IMAGE_NOT_ALLOWED);
        assert!(stall.message.contains(refused), "{}", stall.message);
        assert!(
            stall
                .message
                .contains("allowed: ghcr.io/ghasi/smpp-connector"),
            "{}",
            stall.message
        );
    }
}

#[test]
fn a_path_entry_allows_repositories_below_it_only() {
    let p = policy(&["registry.example.com/sms/*"]);
    assert_eq!(p.check("registry.example.com/sms/connector:1"), Ok(()));
    assert_eq!(p.check("registry.example.com/sms/team/connector:1"), Ok(()));
    for refused in [
        "registry.example.com/sms:1",
        "registry.example.com/sms-evil/connector:1",
        "registry.example.com/smsx/connector:1",
        "registry.example.com.evil/sms/connector:1",
        "registry.example.com/other/connector:1",
    ] {
        assert!(p.check(refused).is_err(), "{refused} allowed");
    }
    assert!(p.describe().contains("registry.example.com/sms/*"));
}

#[test]
fn a_registry_entry_allows_every_repository_of_that_registry_only() {
    let p = policy(&["registry.example.com/*", "localhost:5000/*"]);
    assert_eq!(p.check("registry.example.com/any/path/conn:1"), Ok(()));
    assert_eq!(p.check("localhost:5000/conn"), Ok(()));
    for refused in [
        "registry.example.com.evil/conn:1",
        "registry.example.com:5000/conn:1",
        "docker.io/library/registry.example.com",
        "localhost/conn",
        "conn",
    ] {
        assert!(p.check(refused).is_err(), "{refused} allowed");
    }
    assert_eq!(p.describe(), "registry.example.com/*, localhost:5000/*");
}

#[test]
fn docker_hub_names_match_in_either_spelling() {
    let p = policy(&["busybox", "docker.io/someone/tool"]);
    assert_eq!(p.check("docker.io/library/busybox:1.36"), Ok(()));
    assert_eq!(p.check("busybox"), Ok(()));
    assert_eq!(p.check("someone/tool:2"), Ok(()));
    assert!(p.check("someone/tool-x:2").is_err());
    assert!(p.check("other/busybox").is_err());
}

#[test]
fn a_star_allows_any_image_and_an_empty_policy_none() {
    assert_eq!(policy(&["*"]).check("anything.example/x/y:z"), Ok(()));
    assert!(ImagePolicy::deny_all()
        .check("ghcr.io/ghasi/smpp-connector")
        .is_err());
    let unparsable = policy(&["*"]).check("Not An Image");
    assert!(
        unparsable.is_err(),
        "even * refuses what is not an image reference"
    );
}

#[test]
fn entries_must_be_repositories() {
    for bad in [
        "ghcr.io/ghasi/smpp-connector:0.1.0",
        &format!("ghcr.io/ghasi/smpp-connector@{DIGEST}"),
        "ghcr.io/Ghasi/x",
        "ghcr.io/ghasi/*x",
    ] {
        assert!(ImagePolicy::new(&[bad]).is_err(), "{bad} accepted");
    }
}

#[test]
fn without_entries_only_the_default_image_repository_is_allowed() {
    let p = ImagePolicy::or_default_image::<&str>(&[], "ghcr.io/ghasi/smpp-connector:0.1.0")
        .expect("valid default");
    assert_eq!(p.describe(), "ghcr.io/ghasi/smpp-connector");
    assert_eq!(p.check("ghcr.io/ghasi/smpp-connector:9.9.9"), Ok(()));
    assert!(p.check("ghcr.io/ghasi/other:0.1.0").is_err());

    // An empty value (ALLOWED_IMAGES="") counts as no entries.
    let p = ImagePolicy::or_default_image(&[""], "ghcr.io/ghasi/smpp-connector:0.1.0")
        .expect("valid default");
    assert_eq!(p.describe(), "ghcr.io/ghasi/smpp-connector");

    let p = ImagePolicy::or_default_image(
        &["registry.example.com/a", " registry.example.com/b "],
        "ghcr.io/ghasi/smpp-connector:0.1.0",
    )
    .expect("valid entries");
    assert_eq!(
        p.describe(),
        "registry.example.com/a, registry.example.com/b"
    );
    assert!(
        p.check("ghcr.io/ghasi/smpp-connector:0.1.0").is_err(),
        "explicit entries replace the default"
    );
}
