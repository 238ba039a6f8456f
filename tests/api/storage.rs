//! Storage on both backends: migrations, users, seqs under concurrency, idempotent saves,
//! history paging, demo data.

use chatapp::domain::{ClientId, MessageContent};
use chatapp::storage::messages::{self, Cursor, NewMessage, Saved};
use chatapp::storage::{Db, DbConn, migrations, now_utc, rooms, users};

use crate::both_backends;
use crate::helpers::{Backend, TestDb};

fn add_user(conn: &mut DbConn, name: &str) -> i64 {
    let now = now_utc();
    users::insert(
        conn,
        &users::NewUser {
            username: name,
            email: None,
            password_hash: "$2b$04$not-a-real-hash",
            created_at: now,
            updated_at: now,
            role: "member",
        },
    )
    .expect("insert user")
}

fn general(conn: &mut DbConn) -> rooms::Room {
    rooms::find_by_name(conn, "general")
        .expect("query")
        .expect("general exists")
}

fn msg(room_id: i64, sender_id: i64, text: &str, client_id: Option<&str>) -> NewMessage {
    NewMessage {
        room_id,
        sender_id,
        content: MessageContent::parse(text).unwrap(),
        client_id: client_id.map(|c| ClientId::parse(c).unwrap()),
    }
}

async fn migrations_from_empty_and_again(backend: Backend) {
    let test_db = TestDb::empty(backend);
    let db = test_db.pool(1);
    let mut conn = db.get().unwrap();
    let mut expected = vec![
        "2026-11-25-000000_init".to_string(),
        "2026-11-25-000001_client_id_index".to_string(),
    ];
    if backend == Backend::Postgres {
        // PostgreSQL finds stored client ids through the (sender, client id) key alone.
        expected.push("2026-11-25-000002_drop_client_id_index".to_string());
    }
    expected.push("2026-12-02-000000_workspace".to_string());
    expected.push("2026-12-02-000001_sessions".to_string());
    expected.push("2026-12-02-000010_push".to_string());
    assert_eq!(
        migrations::pending(&mut conn).unwrap().len(),
        expected.len()
    );
    assert!(migrations::ensure_current(&mut conn).is_err());
    let applied = migrations::run_pending(&mut conn).unwrap();
    assert_eq!(applied, expected);
    assert!(migrations::run_pending(&mut conn).unwrap().is_empty());
    migrations::ensure_current(&mut conn).unwrap();
    let room = general(&mut conn);
    assert_eq!(room.last_seq, 0);
}
both_backends!(
    migrate_from_empty_then_again,
    migrations_from_empty_and_again
);

async fn usernames_are_unique_ignoring_case(backend: Backend) {
    let test_db = TestDb::empty(backend);
    let db = test_db.migrated(1);
    let mut conn = db.get().unwrap();
    let id = add_user(&mut conn, "Alice");
    let now = now_utc();
    let again = users::insert(
        &mut conn,
        &users::NewUser {
            username: "aLICE",
            email: None,
            password_hash: "x",
            created_at: now,
            updated_at: now,
            role: "member",
        },
    );
    assert!(again.unwrap_err().is_unique_violation());
    let found = users::find_by_username(&mut conn, "ALICE")
        .unwrap()
        .unwrap();
    assert_eq!((found.id, found.username.as_str()), (id, "Alice"));
    assert!(users::find_by_username(&mut conn, "bob").unwrap().is_none());
}
both_backends!(
    usernames_unique_case_insensitively,
    usernames_are_unique_ignoring_case
);

/// 8 writers × 200 messages into one room, each message its own transaction.
async fn concurrent_writers_get_gapless_seqs(backend: Backend) {
    const WRITERS: usize = 8;
    const EACH: usize = 200;
    let test_db = TestDb::empty(backend);
    let db: Db = test_db.migrated(WRITERS as u32);
    let (room_id, senders) = {
        let mut conn = db.get().unwrap();
        let senders: Vec<i64> = (0..WRITERS)
            .map(|w| add_user(&mut conn, &format!("writer{w}")))
            .collect();
        (general(&mut conn).id, senders)
    };
    let handles: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(w, sender)| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut conn = db.get().unwrap();
                (0..EACH)
                    .map(|i| {
                        let m = msg(
                            room_id,
                            sender,
                            &format!("w{w} m{i}"),
                            Some(&format!("c{i}")),
                        );
                        let saved = messages::save_batch(&mut conn, &[m]).unwrap();
                        assert!(matches!(saved[0], Saved::New(_)));
                        saved[0].message().seq
                    })
                    .collect::<Vec<i64>>()
            })
        })
        .collect();
    let mut seqs: Vec<i64> = Vec::new();
    for handle in handles {
        let mine = handle.join().expect("writer thread");
        assert!(
            mine.windows(2).all(|w| w[0] < w[1]),
            "a writer saw seqs go backwards"
        );
        seqs.extend(mine);
    }
    seqs.sort_unstable();
    let expected: Vec<i64> = (1..=(WRITERS * EACH) as i64).collect();
    assert_eq!(seqs, expected, "seqs must be exactly 1..=1600");

    let mut conn = db.get().unwrap();
    assert_eq!(general(&mut conn).last_seq, (WRITERS * EACH) as i64);
    let mut stored = Vec::new();
    let mut after = 0;
    loop {
        let page =
            messages::history(&mut conn, room_id, "general", Cursor::After(after), 200).unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        stored.extend(page.into_iter().map(|m| m.seq));
    }
    assert_eq!(
        stored, expected,
        "history must hold 1..=1600 once each, in order"
    );
}
both_backends!(
    eight_writers_gapless_seqs,
    concurrent_writers_get_gapless_seqs
);

/// 6 writers whose batches each span 4 rooms, listed in a different order by each writer:
/// no deadlock, and every room's seqs are exactly 1..=N.
async fn batches_across_rooms_neither_deadlock_nor_gap(backend: Backend) {
    const WRITERS: usize = 6;
    const BATCHES: usize = 30;
    const ROOMS: usize = 4;
    let test_db = TestDb::empty(backend);
    let db: Db = test_db.migrated(WRITERS as u32);
    let (room_ids, senders) = {
        let mut conn = db.get().unwrap();
        let senders: Vec<i64> = (0..WRITERS)
            .map(|w| add_user(&mut conn, &format!("spanner{w}")))
            .collect();
        let room_ids: Vec<i64> = (0..ROOMS)
            .map(|r| {
                rooms::insert(
                    &mut conn,
                    &rooms::NewRoom {
                        name: &format!("span{r}"),
                        description: "",
                        created_by: None,
                        created_at: now_utc(),
                        kind: "public",
                        direct_key: None,
                    },
                )
                .unwrap()
                .id
            })
            .collect();
        (room_ids, senders)
    };
    let handles: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(w, sender)| {
            let (db, room_ids) = (db.clone(), room_ids.clone());
            std::thread::spawn(move || {
                let mut conn = db.get().unwrap();
                for b in 0..BATCHES {
                    let batch: Vec<NewMessage> = (0..ROOMS)
                        .map(|k| {
                            // Writer w starts at room w, going up or down by parity.
                            let r = if w % 2 == 0 {
                                (w + k) % ROOMS
                            } else {
                                (w + ROOMS * 2 - k) % ROOMS
                            };
                            msg(room_ids[r], sender, "x", Some(&format!("b{b}-{k}")))
                        })
                        .collect();
                    let saved = messages::save_batch(&mut conn, &batch).unwrap();
                    assert!(saved.iter().all(|s| matches!(s, Saved::New(_))));
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("writer thread");
    }
    let mut conn = db.get().unwrap();
    for (r, room_id) in room_ids.into_iter().enumerate() {
        let page = messages::history(
            &mut conn,
            room_id,
            &format!("span{r}"),
            Cursor::After(0),
            200,
        )
        .unwrap();
        let seqs: Vec<i64> = page.iter().map(|m| m.seq).collect();
        let expected: Vec<i64> = (1..=(WRITERS * BATCHES) as i64).collect();
        assert_eq!(seqs, expected, "room span{r}");
    }
}
both_backends!(
    batches_across_rooms_no_deadlock,
    batches_across_rooms_neither_deadlock_nor_gap
);

async fn reused_client_id_stores_nothing_new(backend: Backend) {
    let test_db = TestDb::empty(backend);
    let db = test_db.migrated(4);
    let mut conn = db.get().unwrap();
    let alice = add_user(&mut conn, "alice");
    let bob = add_user(&mut conn, "bob");
    let room = general(&mut conn).id;

    let first = messages::save_batch(&mut conn, &[msg(room, alice, "hello", Some("c-1"))]).unwrap();
    let Saved::New(original) = first[0].clone() else {
        panic!("first save must be new")
    };
    assert_eq!(original.seq, 1);

    // The same client id again, even with other text: the original comes back, nothing stored.
    let again =
        messages::save_batch(&mut conn, &[msg(room, alice, "hello?", Some("c-1"))]).unwrap();
    assert_eq!(again, vec![Saved::Existing(original.clone())]);

    // Another sender may use the same client id; a repeat inside one batch is stored once.
    let batch = [
        msg(room, bob, "hi", Some("c-1")),
        msg(room, alice, "second", Some("c-2")),
        msg(room, alice, "second", Some("c-2")),
        msg(room, alice, "no id", None),
    ];
    let saved = messages::save_batch(&mut conn, &batch).unwrap();
    let seqs: Vec<i64> = saved.iter().map(|s| s.message().seq).collect();
    assert_eq!(seqs, vec![2, 3, 3, 4]);
    assert!(matches!(saved[2], Saved::Existing(_)));
    assert_eq!(saved[1].message().id, saved[2].message().id);
    assert_eq!(messages::count_in_room(&mut conn, room).unwrap(), 4);
    assert_eq!(general(&mut conn).last_seq, 4);

    // Racing saves of one client id from two connections store it once.
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut conn = db.get().unwrap();
                messages::save_batch(&mut conn, &[msg(room, bob, "race", Some("c-race"))]).unwrap()
            })
        })
        .collect();
    let results: Vec<Saved> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(results[0].message().id, results[1].message().id);
    assert_eq!(messages::count_in_room(&mut conn, room).unwrap(), 5);
    assert_eq!(general(&mut conn).last_seq, 5);
}
both_backends!(
    reused_client_id_is_idempotent,
    reused_client_id_stores_nothing_new
);

async fn history_pages_by_seq(backend: Backend) {
    let test_db = TestDb::empty(backend);
    let db = test_db.migrated(2);
    let mut conn = db.get().unwrap();
    let alice = add_user(&mut conn, "alice");
    let room = general(&mut conn).id;
    let batch: Vec<NewMessage> = (1..=10)
        .map(|i| msg(room, alice, &format!("m{i}"), None))
        .collect();
    messages::save_batch(&mut conn, &batch).unwrap();

    let seqs = |cursor, limit| -> Vec<i64> {
        let mut conn = db.get().unwrap();
        messages::history(&mut conn, room, "general", cursor, limit)
            .unwrap()
            .into_iter()
            .map(|m| m.seq)
            .collect()
    };
    assert_eq!(seqs(Cursor::Latest, 3), vec![8, 9, 10]);
    assert_eq!(seqs(Cursor::Before(8), 3), vec![5, 6, 7]);
    assert_eq!(seqs(Cursor::Before(2), 3), vec![1]);
    assert_eq!(seqs(Cursor::After(0), 3), vec![1, 2, 3]);
    assert_eq!(seqs(Cursor::After(8), 5), vec![9, 10]);
    assert!(seqs(Cursor::After(10), 5).is_empty());

    let page = messages::history(&mut conn, room, "general", Cursor::After(0), 1).unwrap();
    assert_eq!(page[0].sender, "alice");
    assert_eq!(page[0].content, "m1");
    assert_eq!(page[0].room, "general");
    let json = serde_json::to_value(&page[0]).unwrap();
    let stamp = json["timestamp"].as_str().unwrap();
    assert!(stamp.ends_with('Z'), "RFC 3339 UTC: {stamp}");
    assert!(chrono::DateTime::parse_from_rfc3339(stamp).is_ok());
}
both_backends!(history_by_seq, history_pages_by_seq);

async fn seed_twice_changes_nothing(backend: Backend) {
    let test_db = TestDb::empty(backend);
    let db = test_db.migrated(1);
    let first = chatapp::commands::seed::seed(&db, 4).unwrap();
    assert_eq!((first.users, first.rooms, first.messages), (25, 3, 1000));
    let second = chatapp::commands::seed::seed(&db, 4).unwrap();
    assert_eq!((second.users, second.rooms, second.messages), (0, 0, 0));

    let mut conn = db.get().unwrap();
    assert_eq!(users::count(&mut conn).unwrap(), 25);
    let all_rooms = rooms::list(&mut conn).unwrap();
    let names: Vec<&str> = all_rooms.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec!["general", "random", "dev", "help"]);
    let total: i64 = all_rooms.iter().map(|r| r.last_seq).sum();
    assert_eq!(total, 1000);

    // seq order is time order, within the last 50 days.
    let room = general(&mut conn);
    let page = messages::history(&mut conn, room.id, "general", Cursor::After(0), 200).unwrap();
    assert_eq!(page.first().map(|m| m.seq), Some(1));
    assert!(page.windows(2).all(|w| w[0].timestamp < w[1].timestamp));
    let oldest = chrono::Utc::now() - chrono::Duration::days(50);
    assert!(page[0].timestamp > oldest);

    // The demo password is a real bcrypt hash of helloN.
    let user7 = users::find_by_username(&mut conn, "user7")
        .unwrap()
        .unwrap();
    assert!(chatapp::passwords::verify("hello7", &user7.password_hash));
    assert!(!chatapp::passwords::verify("hello8", &user7.password_hash));
}
both_backends!(seed_is_idempotent, seed_twice_changes_nothing);

async fn one_refused_message_never_fails_another(backend: Backend) {
    let test_db = TestDb::empty(backend);
    let db = test_db.migrated(2);
    let mut conn = db.get().unwrap();
    let alice = add_user(&mut conn, "alice");
    let bob = add_user(&mut conn, "bob");
    let room = general(&mut conn).id;
    // Bob's message names a room that does not exist: the database refuses it (a foreign
    // key), in the same batch as Alice's ordinary messages.
    let batch = [
        msg(room, alice, "before", Some("a-1")),
        msg(room + 1000, bob, "nowhere", Some("b-1")),
        msg(room, alice, "after", Some("a-2")),
    ];
    let saved = messages::save_each(&mut conn, &batch).unwrap();
    assert_eq!(saved.len(), 3);
    let seqs: Vec<Option<i64>> = saved
        .iter()
        .map(|s| s.as_ref().ok().map(|s| s.message().seq))
        .collect();
    assert_eq!(seqs, vec![Some(1), None, Some(2)], "{saved:?}");
    let refused = saved[1].as_ref().expect_err("refused alone");
    assert!(
        !refused.is_unavailable() && !refused.is_transient(),
        "{refused}"
    );
    // Gapless: the refused message took no seq.
    assert_eq!(general(&mut conn).last_seq, 2);
    let stored = messages::history(&mut conn, room, "general", Cursor::Latest, 10).unwrap();
    let contents: Vec<&str> = stored.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(contents, vec!["before", "after"]);
    // Sent again, the stored ones are found, not stored twice.
    let again = messages::save_each(&mut conn, &batch).unwrap();
    assert!(matches!(again[0], Ok(Saved::Existing(_))));
    assert!(again[1].is_err());
    assert!(matches!(again[2], Ok(Saved::Existing(_))));
}
both_backends!(
    failure_isolation_in_a_batch,
    one_refused_message_never_fails_another
);
