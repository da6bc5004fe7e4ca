use super::*;
use crate::types::InstanceState;
use proptest::prelude::*;
use serde_json::json;

fn hello() -> Hello {
    Hello {
        protocol: PROTOCOL_VERSION,
        runner_id: "gpu-1".into(),
        name: "box".into(),
        version: "0.1.0".into(),
        runtimes: vec![RuntimeKind::LlamaCpp],
        gpus: vec![GpuInfo {
            index: 0,
            name: "H100".into(),
            total_bytes: 80 << 30,
            free_bytes: 79 << 30,
        }],
        models: vec![ModelOffer {
            name: "tiny".into(),
            runtime: RuntimeKind::LlamaCpp,
            memory_bytes: 1 << 30,
            context_len: 2048,
            parallel: 2,
            embeddings: true,
            max_gpus: 1,
        }],
        instances: vec![InstanceStatus {
            instance: "ins_1".into(),
            model: "tiny".into(),
            gpus: vec![0],
            state: InstanceState::Ready,
            message: None,
        }],
    }
}

#[test]
fn every_message_round_trips() {
    let runner = [
        RunnerMessage::Hello(hello()),
        RunnerMessage::Heartbeat {
            gpus: hello().gpus,
            instances: hello().instances,
        },
        RunnerMessage::InstanceStatus(hello().instances[0].clone()),
        RunnerMessage::ResponseHead {
            stream: 7,
            status: 200,
            content_type: Some("text/event-stream".into()),
        },
        RunnerMessage::ResponseEnd {
            stream: 7,
            error: Some(WireError {
                code: "engine_unavailable".into(),
                message: "engine exited".into(),
            }),
        },
    ];
    for m in runner {
        assert_eq!(RunnerMessage::decode(&m.encode()).expect("decode"), m);
    }
    let control = [
        ControlMessage::Welcome {
            protocol: 1,
            heartbeat_interval_ms: 2000,
            stream_window_bytes: DEFAULT_STREAM_WINDOW,
        },
        ControlMessage::StartInstance(InstanceSpec {
            instance: "ins_2".into(),
            model: "tiny".into(),
            gpus: vec![0, 1],
        }),
        ControlMessage::StopInstance {
            instance: "ins_2".into(),
        },
        ControlMessage::Request {
            stream: 3,
            instance: "ins_2".into(),
            method: "POST".into(),
            path: "/v1/chat/completions".into(),
            body: json!({"model": "tiny", "messages": []}),
        },
        ControlMessage::Cancel { stream: 3 },
        ControlMessage::Window {
            stream: 3,
            bytes: 4096,
        },
    ];
    for m in control {
        assert_eq!(ControlMessage::decode(&m.encode()).expect("decode"), m);
    }
}

#[test]
fn wire_shapes_are_stable() {
    // The spec in docs/runner-protocol.md shows these exact shapes.
    let m = ControlMessage::StartInstance(InstanceSpec {
        instance: "ins_2".into(),
        model: "tiny".into(),
        gpus: vec![0],
    });
    assert_eq!(
        serde_json::to_value(&m).expect("json"),
        json!({"type": "start_instance", "instance": "ins_2", "model": "tiny", "gpus": [0]})
    );
    let m = RunnerMessage::ResponseEnd {
        stream: 9,
        error: None,
    };
    assert_eq!(m.encode(), r#"{"type":"response_end","stream":9}"#);
    let hello = serde_json::to_value(RunnerMessage::Hello(hello())).expect("json");
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["protocol"], 1);
    assert_eq!(hello["runner_id"], "gpu-1");
    assert_eq!(hello["models"][0]["runtime"], "llama_cpp");
    assert_eq!(
        DataFrame {
            stream: 0x0102_0304,
            payload: b"hi".to_vec()
        }
        .encode(),
        vec![1, 1, 2, 3, 4, b'h', b'i']
    );
}

#[test]
fn bad_frames_are_refused_with_a_code() {
    let cases: &[(&str, &str)] = &[
        ("", "malformed_frame"),
        ("not json", "malformed_frame"),
        ("[]", "malformed_frame"),
        (r#"{"type":"teleport"}"#, "malformed_frame"),
        (
            r#"{"type":"response_head","status":200}"#,
            "malformed_frame",
        ),
        (
            r#"{"type":"response_head","stream":0,"status":200}"#,
            "zero_stream_id",
        ),
        (
            r#"{"type":"response_head","stream":-1,"status":200}"#,
            "malformed_frame",
        ),
        (
            r#"{"type":"response_head","stream":1,"status":"ok"}"#,
            "malformed_frame",
        ),
    ];
    for (text, code) in cases {
        let err = RunnerMessage::decode(text).expect_err(text);
        assert_eq!(err.code(), *code, "{text}: {err}");
    }
    let mut h = serde_json::to_value(RunnerMessage::Hello(hello())).expect("json");
    h["surprise"] = json!(1);
    let err = RunnerMessage::decode(&h.to_string()).expect_err("unknown hello field");
    assert_eq!(err.code(), "malformed_frame");

    let huge = format!(
        r#"{{"type":"response_end","stream":1,"error":{{"code":"x","message":"{}"}}}}"#,
        "a".repeat(MAX_TEXT_FRAME)
    );
    assert_eq!(
        RunnerMessage::decode(&huge).expect_err("huge").code(),
        "frame_too_large"
    );
    let err = ControlMessage::decode(r#"{"type":"cancel","stream":0}"#).expect_err("zero");
    assert_eq!(err.code(), "zero_stream_id");
}

#[test]
fn bad_binary_frames_are_refused() {
    for frame in [
        &[][..],
        &[1, 0, 0][..],
        &[2, 0, 0, 0, 1][..],
        &[1, 0, 0, 0, 0][..],
    ] {
        assert!(DataFrame::decode(frame).is_err(), "{frame:?}");
    }
    let mut big = vec![1, 0, 0, 0, 1];
    big.resize(5 + MAX_DATA_PAYLOAD + 1, 0);
    assert_eq!(
        DataFrame::decode(&big).expect_err("big").code(),
        "frame_too_large"
    );
}

#[test]
fn close_codes_round_trip_and_say_whether_to_reconnect() {
    for c in [
        CloseCode::ProtocolError,
        CloseCode::UnsupportedVersion,
        CloseCode::Unauthorized,
        CloseCode::Timeout,
        CloseCode::Superseded,
        CloseCode::GoingAway,
    ] {
        assert_eq!(CloseCode::from_code(c.code()), Some(c));
    }
    assert!(CloseCode::GoingAway.should_reconnect());
    assert!(CloseCode::Timeout.should_reconnect());
    assert!(!CloseCode::Superseded.should_reconnect());
    assert!(!CloseCode::Unauthorized.should_reconnect());
    assert_eq!(CloseCode::from_code(1000), None);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    // Fuzzing the decoders: arbitrary input never panics.
    #[test]
    fn decoders_never_panic_on_arbitrary_text(text in ".{0,512}") {
        let _ = RunnerMessage::decode(&text);
        let _ = ControlMessage::decode(&text);
    }

    #[test]
    fn decoders_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = DataFrame::decode(&bytes);
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = RunnerMessage::decode(text);
        }
    }

    // Mutations of valid messages (the likely garbage) decode or fail cleanly.
    #[test]
    fn mutated_messages_never_panic(cut in 0usize..400, byte in any::<u8>(), at in 0usize..400) {
        let mut text = RunnerMessage::Hello(hello()).encode().into_bytes();
        let at = at % text.len();
        text[at] = byte;
        text.truncate(cut.max(1).min(text.len()));
        if let Ok(text) = std::str::from_utf8(&text) {
            let _ = RunnerMessage::decode(text);
        }
    }

    #[test]
    fn data_frames_round_trip(stream in 1u32.., payload in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let f = DataFrame { stream, payload };
        prop_assert_eq!(DataFrame::decode(&f.encode()).expect("round trip"), f);
    }
}
