//! Property tests of the SSE encoder: no data, however odd (CR, LF, CRLF,
//! NUL, any Unicode), can break the framing or inject a field.

mod common;

use common::{parse_blocks, SseItem};
use proptest::prelude::*;
use sse_hub::server::sse::{encode_comment, encode_message};

/// What a conforming parser must see: line breaks in data become LF.
fn normalised(data: &str) -> String {
    data.replace("\r\n", "\n").replace('\r', "\n")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_message_is_one_block_that_parses_back(
        id in proptest::option::of(any::<u64>()),
        event in proptest::option::of(any::<String>()),
        data in any::<String>(),
    ) {
        let bytes = encode_message(id, event.as_deref(), &data);
        let text = String::from_utf8(bytes.to_vec()).expect("UTF-8 in, UTF-8 out");
        prop_assert!(text.ends_with("\n\n"));
        prop_assert!(!text[..text.len() - 2].contains("\n\n"), "no early end: {text:?}");
        prop_assert!(!text.contains('\r'), "no CR: {text:?}");
        for line in text.trim_end_matches('\n').split('\n') {
            prop_assert!(
                line.starts_with("id: ") || line.starts_with("event: ") || line.starts_with("data: "),
                "only known fields: {line:?}"
            );
        }
        let expected_event = event.map(|e| e.replace(['\r', '\n'], ""));
        prop_assert_eq!(
            parse_blocks(&text),
            vec![SseItem::Message {
                id: id.map(|id| id.to_string()),
                event: expected_event,
                data: normalised(&data),
            }]
        );
    }

    #[test]
    fn comments_stay_one_line(text in any::<String>()) {
        let bytes = encode_comment(&text);
        let encoded = String::from_utf8(bytes.to_vec()).expect("UTF-8");
        prop_assert!(encoded.starts_with(": "));
        prop_assert!(encoded.ends_with("\n\n"));
        prop_assert_eq!(encoded.matches('\n').count(), 2);
        prop_assert!(!encoded.contains('\r'));
    }
}
