//! Tests for [`AddrPool`]: allocation, exhaustion, persistence and corruption.

use std::fs;

use proptest::prelude::*;
use tempfile::TempDir;

use super::*;

fn net(s: &str) -> Subnet {
    s.parse().expect("valid cidr")
}

fn pool(parent: &str, prefix_len: u8) -> AddrPool {
    AddrPool::new(net(parent), prefix_len).expect("valid pool")
}

#[test]
fn allocates_lowest_free_subnet_idempotently() {
    let mut p = pool("10.213.0.0/16", 24);
    assert_eq!(p.capacity(), 256);
    let a = p.allocate("ses_a").expect("a");
    let b = p.allocate("ses_b").expect("b");
    assert_eq!(a, net("10.213.0.0/24"));
    assert_eq!(b, net("10.213.1.0/24"));
    assert_eq!(p.allocate("ses_a").expect("again"), a);
    assert_eq!(p.len(), 2);
    assert_eq!(p.available(), 254);
    assert_eq!(p.get("ses_b"), Some(b));
    assert_eq!(p.get("ses_c"), None);
}

#[test]
fn release_frees_the_subnet_for_reuse() {
    let mut p = pool("10.213.0.0/16", 24);
    for id in ["a", "b", "c"] {
        p.allocate(id).expect("allocate");
    }
    assert_eq!(p.release("b").expect("release"), Some(net("10.213.1.0/24")));
    assert_eq!(p.release("b").expect("twice"), None);
    assert_eq!(p.release("never").expect("unknown"), None);
    assert_eq!(p.allocate("d").expect("reuse"), net("10.213.1.0/24"));
    assert_eq!(p.allocate("e").expect("next"), net("10.213.3.0/24"));
    let listed: Vec<_> = p.assignments().map(|(id, _)| id).collect();
    assert_eq!(listed, ["a", "d", "c", "e"]);
}

#[test]
fn refuses_when_exhausted_until_a_release() {
    let mut p = pool("10.213.0.0/22", 24);
    for i in 0..4 {
        p.allocate(&format!("s{i}")).expect("fits");
    }
    let err = p.allocate("s4").expect_err("exhausted");
    assert_eq!(err.code(), "pool_exhausted");
    assert!(err.to_string().contains("10.213.0.0/22"), "{err}");
    assert_eq!(p.len(), 4);
    p.release("s2").expect("release");
    assert_eq!(p.allocate("s4").expect("room again"), net("10.213.2.0/24"));
}

#[test]
fn the_whole_parent_can_be_one_subnet_and_tiny_subnets_work() {
    let mut whole = pool("192.168.77.0/24", 24);
    assert_eq!(whole.allocate("x").expect("one"), net("192.168.77.0/24"));
    assert_eq!(
        whole.allocate("y").expect_err("full").code(),
        "pool_exhausted"
    );

    let mut tiny = pool("0.0.0.0/0", 30);
    assert_eq!(tiny.capacity(), 1 << 30);
    assert_eq!(tiny.allocate("x").expect("x"), net("0.0.0.0/30"));
    assert_eq!(tiny.allocate("y").expect("y"), net("0.0.0.4/30"));
}

#[test]
fn refuses_bad_configuration_and_session_ids() {
    for (parent, prefix) in [
        ("10.213.0.0/16", 8),
        ("10.213.0.0/16", 31),
        ("10.0.0.0/8", 32),
    ] {
        let err = AddrPool::new(net(parent), prefix).expect_err("bad config");
        assert_eq!(err.code(), "invalid_pool_config");
        assert!(err.is_user_error());
    }
    let mut p = pool("10.213.0.0/16", 24);
    for bad in [String::new(), "x".repeat(257), "a\nb".into()] {
        assert_eq!(
            p.allocate(&bad).expect_err("bad id").code(),
            "invalid_session_id"
        );
    }
    assert!(p.is_empty());
}

#[test]
fn survives_a_restart() {
    let dir = TempDir::new().expect("tempdir");
    let path = dir.path().join("state").join("addr-pool.json");
    let parent = net("10.213.0.0/16");
    let mut first = AddrPool::open(&path, parent, 24).expect("create");
    assert!(path.exists(), "open creates the file");
    assert_eq!(first.path(), Some(path.as_path()));
    for id in ["ses_a", "ses_b", "ses_c"] {
        first.allocate(id).expect("allocate");
    }
    first.release("ses_b").expect("release");
    drop(first);

    let mut second = AddrPool::open(&path, parent, 24).expect("reload");
    assert_eq!(second.get("ses_a"), Some(net("10.213.0.0/24")));
    assert_eq!(second.get("ses_b"), None);
    assert_eq!(second.get("ses_c"), Some(net("10.213.2.0/24")));
    assert_eq!(second.allocate("ses_d").expect("gap"), net("10.213.1.0/24"));

    let third = AddrPool::open(&path, parent, 24).expect("reload again");
    assert_eq!(third, second);
    let leftovers: Vec<_> = fs::read_dir(path.parent().expect("dir"))
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(
        leftovers,
        ["addr-pool.json"],
        "no temporary files left behind"
    );
}

#[test]
fn the_file_is_readable_json() {
    let dir = TempDir::new().expect("tempdir");
    let path = dir.path().join("pool.json");
    let mut p = AddrPool::open(&path, net("10.213.0.0/16"), 24).expect("create");
    p.allocate("ses_a").expect("allocate");
    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(&path).expect("read")).expect("json");
    assert_eq!(
        json,
        serde_json::json!({
            "format": 1,
            "parent": "10.213.0.0/16",
            "prefix_len": 24,
            "assignments": { "ses_a": "10.213.0.0/24" },
        })
    );
}

fn open_with(contents: &str) -> HydraError {
    let dir = TempDir::new().expect("tempdir");
    let path = dir.path().join("pool.json");
    fs::write(&path, contents).expect("write");
    AddrPool::open(&path, net("10.213.0.0/16"), 24).expect_err("refused")
}

fn file_with(assignments: &str) -> String {
    format!(
        r#"{{"format": 1, "parent": "10.213.0.0/16", "prefix_len": 24, "assignments": {assignments}}}"#
    )
}

#[test]
fn a_corrupted_file_is_refused_with_a_clear_error() {
    let cases = [
        ("", "EOF"),
        ("{not json", "key must be a string"),
        (r#"{"format": 1}"#, "missing field"),
        (
            &file_with("{}").replace("\"format\": 1", "\"format\": 9"),
            "unsupported format 9",
        ),
        (&file_with(r#"{"a": "10.213.0.1/24"}"#), "host bits"),
        (
            &file_with(r#"{"a": "10.214.0.0/24"}"#),
            "not a /24 inside 10.213.0.0/16",
        ),
        (&file_with(r#"{"a": "10.213.0.0/25"}"#), "not a /24"),
        (
            &file_with(r#"{"a": "10.213.5.0/24", "b": "10.213.5.0/24"}"#),
            "both hold 10.213.5.0/24",
        ),
        (&file_with(r#"{"": "10.213.5.0/24"}"#), "is empty"),
    ];
    for (contents, expected) in cases {
        let err = open_with(contents);
        assert_eq!(err.code(), "corrupt_pool_file", "{contents}: {err}");
        let message = err.to_string();
        assert!(message.contains(expected), "{contents}: {message}");
        assert!(message.contains("pool.json"), "{message}");
    }
}

#[test]
fn a_file_for_another_range_is_a_mismatch() {
    let err = open_with(&file_with("{}").replace("/16", "/17"));
    assert_eq!(err.code(), "pool_config_mismatch");
    assert!(err.to_string().contains("10.213.0.0/17"), "{err}");
    let err = open_with(&file_with("{}").replace("24", "26"));
    assert_eq!(err.code(), "pool_config_mismatch");
}

#[test]
fn a_change_that_cannot_be_saved_is_rolled_back() {
    let dir = TempDir::new().expect("tempdir");
    let state = dir.path().join("state");
    let path = state.join("pool.json");
    let mut p = AddrPool::open(&path, net("10.213.0.0/16"), 24).expect("create");
    p.allocate("kept").expect("allocate");
    fs::remove_dir_all(&state).expect("pull the rug");

    let err = p.allocate("new").expect_err("cannot save");
    assert_eq!(err.code(), "pool_file_io");
    assert!(!err.is_user_error());
    assert_eq!(p.get("new"), None);
    let err = p.release("kept").expect_err("cannot save");
    assert_eq!(err.code(), "pool_file_io");
    assert_eq!(p.get("kept"), Some(net("10.213.0.0/24")));
}

#[derive(Debug, Clone)]
enum Op {
    Allocate(u8),
    Release(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..24).prop_map(Op::Allocate),
        1 => (0u8..24).prop_map(Op::Release),
    ]
}

proptest! {
    #[test]
    fn allocations_never_overlap(
        parent_prefix in 16u8..=24,
        extra in 0u8..=4,
        ops in proptest::collection::vec(op(), 0..80),
    ) {
        let parent = Subnet::new(std::net::Ipv4Addr::new(10, 213, 0, 0), parent_prefix)
            .expect("aligned");
        let mut p = AddrPool::new(parent, parent_prefix + extra).expect("valid");
        for op in ops {
            match op {
                Op::Allocate(id) => {
                    let id = id.to_string();
                    let before = p.get(&id);
                    match p.allocate(&id) {
                        Ok(subnet) => {
                            prop_assert!(before.is_none() || before == Some(subnet));
                            prop_assert!(parent.contains_subnet(&subnet));
                            prop_assert_eq!(subnet.prefix_len(), parent_prefix + extra);
                        }
                        Err(e) => {
                            prop_assert_eq!(e.code(), "pool_exhausted");
                            prop_assert_eq!(p.available(), 0);
                        }
                    }
                }
                Op::Release(id) => {
                    p.release(&id.to_string()).expect("in-memory release");
                }
            }
            let all: Vec<Subnet> = p.assignments().map(|(_, s)| s).collect();
            prop_assert!(all.len() as u64 <= p.capacity());
            for (i, a) in all.iter().enumerate() {
                for b in &all[i + 1..] {
                    prop_assert!(!a.overlaps(b), "{} overlaps {}", a, b);
                }
            }
        }
    }
}
