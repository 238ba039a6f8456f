//! The check after a fault: the history (the events feed, read from `front`) against what
//! was acknowledged and against what every user saw.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::load::{Seen, Stats, View};

/// What a scenario measured; every row of docs/RELIABILITY.md is one of these.
#[derive(Debug)]
pub struct Report {
    pub scenario: &'static str,
    pub sent: usize,
    pub acked: usize,
    /// Acknowledged messages missing from the history.
    pub lost: usize,
    /// client_ids stored more than once.
    pub duplicated: usize,
    /// Events a connection was told twice.
    pub live_duplicates: usize,
    /// Events some user had not seen live nor by a catch-up of their own before the end.
    pub filled_at_end: usize,
    pub reconnects: usize,
    pub refused: usize,
    /// The longest time no message was acknowledged, anywhere.
    pub longest_silence: Duration,
    /// From the end of the fault to the first acknowledgement after it.
    pub recovered_after: Option<Duration>,
}

impl Report {
    pub fn line(&self) -> String {
        format!(
            "fault scenario {}: sent {}, acked {}, lost {}, duplicated {}, told twice {}, \
             filled only at the end {}, reconnects {}, refused {}, longest silence {:.1} s, \
             first ack {} after the fault ended",
            self.scenario,
            self.sent,
            self.acked,
            self.lost,
            self.duplicated,
            self.live_duplicates,
            self.filled_at_end,
            self.reconnects,
            self.refused,
            self.longest_silence.as_secs_f64(),
            self.recovered_after
                .map_or("—".to_owned(), |d| format!("{:.1} s", d.as_secs_f64())),
        )
    }
}

/// Every event of `room`, read page by page from the events feed.
pub async fn history(front: &str, token: &str, room: &str) -> Vec<Value> {
    let client = awc::Client::default();
    let mut events: Vec<Value> = Vec::new();
    loop {
        let after = events.last().map_or(0, |e| e["seq"].as_i64().expect("seq"));
        let mut response = client
            .get(format!(
                "{front}/api/chat/events?room={room}&after={after}&limit=500"
            ))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .timeout(Duration::from_secs(20))
            .send()
            .await
            .expect("events feed");
        assert_eq!(response.status().as_u16(), 200, "events of {room}");
        let page: Value = response
            .json::<Value>()
            .limit(16 << 20)
            .await
            .expect("json");
        let got = page["events"].as_array().expect("events").clone();
        if got.is_empty() {
            return events;
        }
        events.extend(got);
    }
}

/// Checks the history of `rooms` against `stats` and `views`, and answers the report.
/// Fails the test on any loss, duplicate, gap or view that differs from the history.
pub async fn verify(
    scenario: &'static str,
    front: &str,
    token: &str,
    rooms: &[String],
    stats: &Stats,
    views: &[View],
    fault_ended: Option<Instant>,
) -> Report {
    let mut stored: HashMap<String, Vec<(String, i64, Value)>> = HashMap::new();
    let mut by_room: BTreeMap<String, BTreeMap<i64, Seen>> = BTreeMap::new();
    for room in rooms {
        let events = history(front, token, room).await;
        let seqs: Vec<i64> = events
            .iter()
            .map(|e| e["seq"].as_i64().expect("seq"))
            .collect();
        let expected: Vec<i64> = (1..=seqs.len() as i64).collect();
        assert_eq!(
            seqs, expected,
            "{scenario}: the events of {room} are gapless from 1"
        );
        for event in &events {
            if event["type"] == "chat"
                && let Some(cid) = event["client_id"].as_str()
            {
                stored.entry(cid.to_owned()).or_default().push((
                    room.clone(),
                    event["seq"].as_i64().expect("seq"),
                    event["content"].clone(),
                ));
            }
        }
        by_room.insert(
            room.clone(),
            events
                .iter()
                .map(|e| (e["seq"].as_i64().expect("seq"), Seen::of(e)))
                .collect(),
        );
    }

    let mut lost = Vec::new();
    for (cid, (room, seq)) in &stats.acked {
        match stored.get(cid).map(Vec::as_slice) {
            Some([(r, s, content)]) => {
                assert_eq!(
                    (r, s),
                    (room, seq),
                    "{scenario}: {cid} is stored where its ack said"
                );
                assert_eq!(
                    content.as_str(),
                    Some(stats.sent[cid].1.as_str()),
                    "{scenario}: {cid}'s content"
                );
            }
            None | Some([]) => lost.push(cid.clone()),
            Some(_) => {}
        }
    }
    let duplicated: Vec<&String> = stored
        .iter()
        .filter(|(_, copies)| copies.len() > 1)
        .map(|(cid, _)| cid)
        .collect();
    let unacked: Vec<&String> = stats
        .sent
        .keys()
        .filter(|cid| !stats.acked.contains_key(*cid))
        .collect();

    for view in views {
        for (room, seen) in &view.rooms {
            assert_eq!(
                seen, &by_room[room],
                "{scenario}: what {} saw of {room} is the history",
                view.name
            );
        }
    }

    let mut times = stats.ack_times.clone();
    times.sort();
    let longest_silence = times
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();
    let recovered_after =
        fault_ended.and_then(|end| times.iter().find(|t| **t >= end).map(|t| *t - end));
    let report = Report {
        scenario,
        sent: stats.sent.len(),
        acked: stats.acked.len(),
        lost: lost.len(),
        duplicated: duplicated.len(),
        live_duplicates: stats.live_duplicates,
        filled_at_end: views.iter().map(|v| v.filled_at_end).sum(),
        reconnects: stats.reconnects,
        refused: stats.refused,
        longest_silence,
        recovered_after,
    };
    println!("{}", report.line());
    if let Ok(path) = std::env::var("CHATAPP_FAULT_REPORT") {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("report file");
        writeln!(file, "{}", report.line()).expect("write report");
    }
    assert!(lost.is_empty(), "{scenario}: acked and lost: {lost:?}");
    assert!(
        duplicated.is_empty(),
        "{scenario}: stored twice: {duplicated:?}"
    );
    assert!(unacked.is_empty(), "{scenario}: never acked: {unacked:?}");
    assert!(
        stats.disagreements.is_empty(),
        "{scenario}: {:?}",
        stats.disagreements
    );
    assert_eq!(stats.live_duplicates, 0, "{scenario}: events told twice");
    assert_eq!(
        report.filled_at_end, 0,
        "{scenario}: events hidden from a user until a catch-up of their own after the load"
    );
    report
}
