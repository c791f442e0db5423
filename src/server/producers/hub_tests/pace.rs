//! The producer's pace under late ticks.

use super::*;

/// The timestamp of an encoded generated event, in milliseconds since the
/// Unix epoch.
fn timestamp_ms_of(bytes: &Bytes) -> u128 {
    let message = text(bytes);
    let json = message
        .lines()
        .find_map(|line| line.strip_prefix("data: "))
        .unwrap_or_else(|| panic!("no data in {message:?}"));
    let event: StreamEvent = serde_json::from_str(json).expect("generated JSON");
    let at = humantime::parse_rfc3339(&event.timestamp).expect("ISO-8601 timestamp");
    at.duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis()
}

/// Ticks that come late, by amounts that shrink, grow and vanish, are never
/// stamped closer together than the interval, and never come closer than
/// the interval less the timer's resolution. (With tokio's `Interval`, a
/// tick up to 5 ms late kept the old grid, so the next came, and was
/// stamped, as little as 5 ms after it.)
#[tokio::test(start_paused = true)]
async fn late_ticks_never_bring_two_events_closer_than_the_interval() {
    const TICK: Duration = Duration::from_millis(10);
    let hub = hub_with(Settings {
        interval: TICK,
        ..settings()
    });
    let mut sub = hub.subscribe(&id("s"), None, LOCAL).await.expect("joined");
    // The clock is moved by hand, in turns: by one interval plus a lateness
    // after an event that came on time, so that the next tick is seen that
    // late; then in fine steps until the tick after it comes, on time. The
    // lateness shrinks, grows and vanishes.
    let fine = Duration::from_micros(100);
    let lateness_us = [
        0, 4_900, 0, 3_000, 4_990, 0, 9_900, 500, 15_000, 0, 2_600, 5_000, 100, 0,
    ];
    let mut received: Vec<(tokio::time::Instant, Bytes)> = Vec::new();
    let mut late = lateness_us.iter().cycle();
    let mut seen_late = true;
    while received.len() < 60 {
        let before = received.len();
        if !seen_late {
            let lateness = Duration::from_micros(*late.next().expect("cycle"));
            tokio::time::advance(TICK + lateness).await;
        }
        seen_late = !seen_late;
        loop {
            settle().await;
            while let Some(message) = sub.try_next_message() {
                received.push((tokio::time::Instant::now(), message));
            }
            if received.len() > before {
                break;
            }
            tokio::time::advance(fine).await;
        }
    }
    for pair in received.windows(2) {
        let ((at_a, a), (at_b, b)) = (&pair[0], &pair[1]);
        assert_eq!(seq_of(b), seq_of(a) + 1, "consecutive ids");
        assert!(
            *at_b - *at_a >= TICK - crate::server::producers::pace::ON_GRID,
            "events {} and {} came {:?} apart",
            seq_of(a),
            seq_of(b),
            *at_b - *at_a
        );
        let apart_ms = timestamp_ms_of(b) - timestamp_ms_of(a);
        assert!(
            apart_ms >= TICK.as_millis(),
            "timestamps of {} and {} are {apart_ms} ms apart",
            seq_of(a),
            seq_of(b)
        );
    }
}
