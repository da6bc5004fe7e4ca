//! Round trips, every malformed case, and fuzzing of both message directions.

use proptest::prelude::*;

use super::*;
use crate::StreamError;

fn server_samples() -> Vec<ServerMessage> {
    vec![
        ServerMessage::Init {
            version: PROTOCOL_VERSION,
            width: 1920,
            height: 1080,
            codec: Codec::H264,
        },
        ServerMessage::Init {
            version: 1,
            width: 3840,
            height: 2160,
            codec: Codec::Av1,
        },
        ServerMessage::VideoFrame {
            keyframe: true,
            capture_ts_us: 1_700_000_000_000_000,
            data: vec![0, 0, 0, 1, 0x67, 0x42],
        },
        ServerMessage::VideoFrame {
            keyframe: false,
            capture_ts_us: 0,
            data: vec![],
        },
        ServerMessage::Pong {
            client_ts_us: 12,
            server_ts_us: u64::MAX,
        },
        ServerMessage::Error {
            code: error_code::STREAM_UNAVAILABLE,
            message: "desktop ses_01 is gone: écran".into(),
        },
        ServerMessage::StreamInfo {
            encoder: "x264enc".into(),
            bitrate_kbps: 4000,
            fps: 30,
        },
        ServerMessage::Clipboard {
            text: "copied ✓".into(),
        },
    ]
}

fn client_samples() -> Vec<ClientMessage> {
    vec![
        ClientMessage::Hello { version: 1 },
        ClientMessage::RequestKeyframe,
        ClientMessage::Ping { client_ts_us: 42 },
        ClientMessage::KeyDown { code: 0x04 },
        ClientMessage::KeyUp { code: 0xE1 },
        ClientMessage::MouseMove { x: -3, y: 1079 },
        ClientMessage::MouseButton {
            button: 2,
            down: true,
        },
        ClientMessage::Scroll {
            dx: i32::MIN,
            dy: 120,
        },
        ClientMessage::Text {
            text: "héllo\n".into(),
        },
        ClientMessage::Touch {
            id: 7,
            phase: TouchPhase::Move,
            x: 10,
            y: -1,
        },
        ClientMessage::SetBitrate { kbps: 2500 },
        ClientMessage::Clipboard {
            text: "pasted".into(),
        },
    ]
}

#[test]
fn every_server_message_round_trips() {
    for message in server_samples() {
        let frame = message.encode().expect("encode");
        assert_eq!(frame[0], PROTOCOL_VERSION);
        assert_eq!(frame[1], message.message_type());
        assert_eq!(ServerMessage::decode(&frame).expect("decode"), message);
    }
}

#[test]
fn every_client_message_round_trips() {
    for message in client_samples() {
        let frame = message.encode().expect("encode");
        assert_eq!(frame[..2], [PROTOCOL_VERSION, message.message_type()]);
        assert_eq!(ClientMessage::decode(&frame).expect("decode"), message);
    }
}

#[test]
fn layouts_match_the_specification() {
    let init = ServerMessage::Init {
        version: 1,
        width: 0x0780,
        height: 0x0438,
        codec: Codec::H265,
    };
    assert_eq!(
        init.encode().expect("encode"),
        [1, 0x01, 1, 0x80, 0x07, 0, 0, 0x38, 0x04, 0, 0, 2]
    );
    let frame = ServerMessage::VideoFrame {
        keyframe: true,
        capture_ts_us: 0x0102,
        data: vec![0xAA, 0xBB],
    };
    assert_eq!(
        frame.encode().expect("encode"),
        [1, 0x02, 1, 0x02, 0x01, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0xAA, 0xBB]
    );
    let error = ServerMessage::Error {
        code: 0x0102,
        message: "no".into(),
    };
    assert_eq!(
        error.encode().expect("encode"),
        [1, 0x04, 0x02, 0x01, 2, 0, 0, 0, b'n', b'o']
    );
    let mouse = ClientMessage::MouseMove { x: -1, y: 2 };
    assert_eq!(
        mouse.encode().expect("encode"),
        [1, 0x86, 0xFF, 0xFF, 0xFF, 0xFF, 2, 0, 0, 0]
    );
    let button = ClientMessage::MouseButton {
        button: 1,
        down: false,
    };
    assert_eq!(button.encode().expect("encode"), [1, 0x87, 1, 0]);
    assert_eq!(
        ClientMessage::RequestKeyframe.encode().expect("encode"),
        [1, 0x82]
    );
}

#[test]
fn names_are_distinct_and_types_do_not_collide_across_directions() {
    let server: Vec<_> = server_samples().iter().map(|m| m.message_type()).collect();
    let client: Vec<_> = client_samples().iter().map(|m| m.message_type()).collect();
    assert!(server.iter().all(|t| !client.contains(t)));
    let mut names: Vec<_> = client_samples().iter().map(|m| m.name()).collect();
    names.extend(server_samples().iter().map(|m| m.name()));
    names.sort_unstable();
    names.dedup();
    // 18 messages; `clipboard` goes both ways.
    assert_eq!(names.len(), 17);
}

fn client_err(frame: &[u8]) -> StreamError {
    ClientMessage::decode(frame).expect_err("malformed")
}

fn server_err(frame: &[u8]) -> StreamError {
    ServerMessage::decode(frame).expect_err("malformed")
}

#[test]
fn unknown_versions_are_refused() {
    for version in [0, 2, 0xFF] {
        let err = client_err(&[version, 0x82]);
        assert_eq!(err.code(), "unsupported_version");
        assert_eq!(server_err(&[version, 0x01]).code(), "unsupported_version");
    }
}

#[test]
fn unknown_and_misdirected_types_are_refused() {
    for t in [0x00, 0x07, 0x80, 0x8D, 0xFF] {
        assert_eq!(client_err(&[1, t]).code(), "unknown_message_type");
        assert_eq!(server_err(&[1, t]).code(), "unknown_message_type");
    }
    let ping = ClientMessage::Ping { client_ts_us: 1 }
        .encode()
        .expect("encode");
    let err = server_err(&ping);
    assert_eq!(err.code(), "unknown_message_type");
    assert_eq!(err.to_string(), "unknown server message type 0x83");
    let pong = server_samples()[4].encode().expect("encode");
    assert_eq!(client_err(&pong).code(), "unknown_message_type");
}

#[test]
fn every_truncation_is_refused() {
    assert_eq!(client_err(&[]).code(), "truncated");
    assert_eq!(client_err(&[1]).code(), "truncated");
    for message in client_samples() {
        let frame = message.encode().expect("encode");
        for len in 2..frame.len() {
            assert_eq!(client_err(&frame[..len]).code(), "truncated", "{message:?}");
        }
    }
    for message in server_samples() {
        let frame = message.encode().expect("encode");
        for len in 0..frame.len() {
            assert_eq!(server_err(&frame[..len]).code(), "truncated", "{message:?}");
        }
    }
    let err = server_err(&[
        1, 0x02, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 1,
    ]);
    assert_eq!(
        err.to_string(),
        "video_frame frame truncated at byte 11 while reading data"
    );
}

#[test]
fn trailing_bytes_are_refused() {
    for message in client_samples() {
        let mut frame = message.encode().expect("encode");
        frame.push(0);
        let err = client_err(&frame);
        assert_eq!(err.code(), "trailing_bytes", "{message:?}");
        assert!(err.to_string().contains(message.name()), "{err}");
    }
    for message in server_samples() {
        let mut frame = message.encode().expect("encode");
        frame.extend_from_slice(&[1, 2, 3]);
        assert_eq!(
            server_err(&frame),
            StreamError::TrailingBytes {
                message: message.name(),
                count: 3
            }
        );
    }
}

#[test]
fn out_of_domain_fields_are_invalid() {
    let cases: [(&[u8], &str); 3] = [
        (&[1, 0x01, 1, 0, 0, 0, 0, 0, 0, 0, 0, 9], "codec"),
        (
            &[1, 0x02, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            "keyframe",
        ),
        (&[1, 0x04, 0, 0, 2, 0, 0, 0, 0xC3, 0x28], "message"),
    ];
    for (frame, expected) in cases {
        match server_err(frame) {
            StreamError::InvalidField { field, .. } => assert_eq!(field, expected),
            other => panic!("expected invalid {expected}, got {other}"),
        }
    }
    match client_err(&[1, 0x87, 0, 7]) {
        StreamError::InvalidField { field, message, .. } => {
            assert_eq!((message, field), ("mouse_button", "down"));
        }
        other => panic!("expected invalid down, got {other}"),
    }
    let long = "x".repeat(MAX_TEXT_LEN + 1);
    let mut text = vec![1, 0x89];
    text.extend_from_slice(&(long.len() as u32).to_le_bytes());
    text.extend_from_slice(long.as_bytes());
    let client_cases: [(Vec<u8>, &str, &str); 4] = [
        (
            vec![1, 0x8A, 1, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0],
            "touch",
            "phase",
        ),
        (vec![1, 0x8B, 99, 0, 0, 0], "set_bitrate", "kbps"),
        (vec![1, 0x8B, 0x51, 0xC3, 0, 0], "set_bitrate", "kbps"),
        (text, "text", "text"),
    ];
    for (frame, message, field) in client_cases {
        match client_err(&frame) {
            StreamError::InvalidField {
                field: f,
                message: m,
                ..
            } => assert_eq!((m, f), (message, field)),
            other => panic!("expected invalid {message}.{field}, got {other}"),
        }
    }
    let err = ClientMessage::Text { text: long }.encode().unwrap_err();
    assert_eq!(err.code(), "invalid_field");
    let huge = "x".repeat(MAX_CLIPBOARD_LEN + 1);
    let err = ClientMessage::Clipboard { text: huge.clone() }
        .encode()
        .unwrap_err();
    assert_eq!(err.code(), "invalid_field");
    let mut frame = vec![1, 0x8C];
    frame.extend_from_slice(&(huge.len() as u32).to_le_bytes());
    frame.extend_from_slice(huge.as_bytes());
    assert_eq!(client_err(&frame).code(), "invalid_field");
}

#[test]
fn oversized_frames_are_refused_both_ways() {
    let big = ServerMessage::VideoFrame {
        keyframe: true,
        capture_ts_us: 0,
        data: vec![0; MAX_FRAME_LEN],
    };
    assert_eq!(big.encode().expect_err("too big").code(), "frame_too_large");
    let fits = ServerMessage::VideoFrame {
        keyframe: true,
        capture_ts_us: 0,
        data: vec![0; MAX_FRAME_LEN - 15],
    };
    let frame = fits.encode().expect("largest frame");
    assert_eq!(frame.len(), MAX_FRAME_LEN);
    assert_eq!(ServerMessage::decode(&frame).expect("decode"), fits);
    let mut over = frame;
    over.push(0);
    assert_eq!(server_err(&over).code(), "frame_too_large");
}

#[test]
fn decode_errors_map_to_error_messages() {
    let err = client_err(&[7, 0x81, 7]);
    let reply = ServerMessage::error_for(&err);
    assert_eq!(
        reply,
        ServerMessage::Error {
            code: error_code::UNSUPPORTED_VERSION,
            message: "unsupported stream protocol version 7 (supported: 1)".into(),
        }
    );
    let reply = ServerMessage::error_for(&client_err(&[1, 0x83]));
    assert!(matches!(
        reply,
        ServerMessage::Error {
            code: error_code::MALFORMED_MESSAGE,
            ..
        }
    ));
    assert_eq!(
        ServerMessage::decode(&reply.encode().expect("encode")).expect("decode"),
        reply
    );
}

#[test]
fn codecs_have_stable_ids_and_names() {
    for (codec, id, name) in [
        (Codec::H264, 1, "h264"),
        (Codec::H265, 2, "h265"),
        (Codec::Av1, 3, "av1"),
    ] {
        assert_eq!(codec.id(), id);
        assert_eq!(Codec::from_id(id), Some(codec));
        assert_eq!(codec.to_string(), name);
    }
    assert_eq!(Codec::from_id(0), None);
}

fn any_server_message() -> impl Strategy<Value = ServerMessage> {
    let codec = prop_oneof![Just(Codec::H264), Just(Codec::H265), Just(Codec::Av1)];
    prop_oneof![
        (any::<u8>(), any::<u32>(), any::<u32>(), codec).prop_map(
            |(version, width, height, codec)| ServerMessage::Init {
                version,
                width,
                height,
                codec
            }
        ),
        (
            any::<bool>(),
            any::<u64>(),
            proptest::collection::vec(any::<u8>(), 0..256)
        )
            .prop_map(
                |(keyframe, capture_ts_us, data)| ServerMessage::VideoFrame {
                    keyframe,
                    capture_ts_us,
                    data
                }
            ),
        (any::<u64>(), any::<u64>()).prop_map(|(client_ts_us, server_ts_us)| {
            ServerMessage::Pong {
                client_ts_us,
                server_ts_us,
            }
        }),
        (any::<u16>(), ".{0,40}")
            .prop_map(|(code, message)| ServerMessage::Error { code, message }),
        (".{0,20}", any::<u32>(), any::<u32>()).prop_map(|(encoder, bitrate_kbps, fps)| {
            ServerMessage::StreamInfo {
                encoder,
                bitrate_kbps,
                fps,
            }
        }),
        ".{0,40}".prop_map(|text| ServerMessage::Clipboard { text }),
    ]
}

fn any_client_message() -> impl Strategy<Value = ClientMessage> {
    prop_oneof![
        any::<u8>().prop_map(|version| ClientMessage::Hello { version }),
        Just(ClientMessage::RequestKeyframe),
        any::<u64>().prop_map(|client_ts_us| ClientMessage::Ping { client_ts_us }),
        any::<u32>().prop_map(|code| ClientMessage::KeyDown { code }),
        any::<u32>().prop_map(|code| ClientMessage::KeyUp { code }),
        (any::<i32>(), any::<i32>()).prop_map(|(x, y)| ClientMessage::MouseMove { x, y }),
        (any::<u8>(), any::<bool>())
            .prop_map(|(button, down)| ClientMessage::MouseButton { button, down }),
        (any::<i32>(), any::<i32>()).prop_map(|(dx, dy)| ClientMessage::Scroll { dx, dy }),
        ".{0,64}".prop_map(|text| ClientMessage::Text { text }),
        (any::<u32>(), 0u8..4, any::<i32>(), any::<i32>()).prop_map(|(id, phase, x, y)| {
            ClientMessage::Touch {
                id,
                phase: TouchPhase::from_id(phase).expect("phase in range"),
                x,
                y,
            }
        }),
        BITRATE_RANGE_KBPS.prop_map(|kbps| ClientMessage::SetBitrate { kbps }),
        ".{0,40}".prop_map(|text| ClientMessage::Clipboard { text }),
    ]
}

proptest! {
    #[test]
    fn random_bytes_never_panic_decode(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = ServerMessage::decode(&bytes);
        let _ = ClientMessage::decode(&bytes);
    }

    #[test]
    fn random_fields_after_a_valid_header_never_panic(
        message_type in any::<u8>(),
        fields in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut frame = vec![PROTOCOL_VERSION, message_type];
        frame.extend_from_slice(&fields);
        if let Ok(message) = ServerMessage::decode(&frame) {
            prop_assert_eq!(message.encode().expect("re-encode"), frame.clone());
        }
        if let Ok(message) = ClientMessage::decode(&frame) {
            prop_assert_eq!(message.encode().expect("re-encode"), frame);
        }
    }

    #[test]
    fn server_messages_round_trip(message in any_server_message()) {
        let frame = message.encode().expect("encode");
        prop_assert_eq!(ServerMessage::decode(&frame).expect("decode"), message);
    }

    #[test]
    fn client_messages_round_trip(message in any_client_message()) {
        let frame = message.encode().expect("encode");
        prop_assert_eq!(ClientMessage::decode(&frame).expect("decode"), message);
    }
}
