//! Saving a batch: one transaction that finds stored client ids, reserves every room's
//! seqs and inserts the rows.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{NewMessage, Saved, StoredMessage};
use crate::domain::ClientId;
use crate::storage::conn::write_transaction;
use crate::storage::schema::messages;
use crate::storage::{DbConn, Prepared, StorageError, now_utc, rooms};

/// Stores a batch, each message independently of the others' faults, and reports in batch
/// order what became of each: first all in one transaction (group commit); if the database
/// refuses that transaction for a reason other than being unreachable, each message again
/// in a transaction of its own, so one bad message never fails another sender's.
/// `Err` only when the database cannot be reached (the outcome of a commit may then be
/// unknown: the caller sends the same client ids again).
pub fn save_each(
    conn: &mut DbConn,
    batch: &[NewMessage],
) -> Result<Vec<Result<Saved, StorageError>>, StorageError> {
    match save_batch(conn, batch) {
        Ok(saved) => Ok(saved.into_iter().map(Ok).collect()),
        Err(e) if e.is_unavailable() => Err(e),
        Err(e) if batch.len() == 1 => Ok(vec![Err(e)]),
        Err(e) => {
            tracing::warn!(error = %e, messages = batch.len(), "a batch failed; storing its messages one by one");
            let mut out = Vec::with_capacity(batch.len());
            for one in batch.chunks(1) {
                match save_batch(conn, one) {
                    Ok(mut saved) => out.push(saved.pop().ok_or_else(|| {
                        StorageError::Internal("a save returned no outcome".into())
                    })),
                    Err(e) if e.is_unavailable() => return Err(e),
                    Err(e) => out.push(Err(e)),
                }
            }
            Ok(out)
        }
    }
}

/// Stores a batch in one transaction (group commit) and reports, in batch order, what
/// became of each message. A (sender, client_id) already stored — before or earlier in the
/// same batch — is not stored again. Seqs are reserved per room in the same transaction as
/// the inserts, so they are gapless and never repeat, whatever runs concurrently.
pub fn save_batch(conn: &mut DbConn, batch: &[NewMessage]) -> Result<Vec<Saved>, StorageError> {
    let mut attempts = 0;
    loop {
        match write_transaction(conn, |conn| save_batch_once(conn, batch)) {
            // A concurrent save of the same client id won the race: look again, and the
            // retry finds the winner's message as existing.
            Err(e) if e.is_unique_violation() && attempts < 2 => attempts += 1,
            other => return other,
        }
    }
}

fn save_batch_once(conn: &mut DbConn, batch: &[NewMessage]) -> Result<Vec<Saved>, StorageError> {
    let mut out: Vec<Option<Saved>> = vec![None; batch.len()];
    let mut first_with_id: HashMap<(i64, &str), usize> = HashMap::new();
    let mut repeats: Vec<(usize, usize)> = Vec::new();
    for (i, msg) in batch.iter().enumerate() {
        if let Some(cid) = msg.client_id.as_ref().map(ClientId::as_str) {
            match first_with_id.entry((msg.sender_id, cid)) {
                std::collections::hash_map::Entry::Occupied(first) => {
                    repeats.push((i, *first.get()))
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(i);
                }
            }
        }
    }
    // One query finds every (sender, client id) of the batch that is stored already.
    let existing = find_existing(conn, first_with_id.keys().copied())?;
    // Room order is the lock order, so two batches never wait on each other in a cycle.
    let mut fresh_by_room: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    let mut is_repeat = vec![false; batch.len()];
    for (r, _) in &repeats {
        is_repeat[*r] = true;
    }
    for (i, msg) in batch.iter().enumerate() {
        if is_repeat[i] {
            continue;
        }
        let known = msg
            .client_id
            .as_ref()
            .and_then(|cid| existing.get(&(msg.sender_id, cid.as_str().to_owned())));
        match known {
            Some(stored) => out[i] = Some(Saved::Existing(stored.clone())),
            None => fresh_by_room.entry(msg.room_id).or_default().push(i),
        }
    }

    let wanted: Vec<(i64, i64)> = fresh_by_room
        .iter()
        .map(|(room, indexes)| (*room, indexes.len() as i64))
        .collect();
    let firsts = if wanted.is_empty() {
        HashMap::new()
    } else {
        rooms::reserve_seqs_many(conn, &wanted)?
    };
    // Taken under the rooms' locks, so within a room later seqs never get earlier times.
    let now = now_utc();
    let mut rows: Vec<(usize, i64)> = Vec::new();
    for (room_id, indexes) in fresh_by_room {
        let first_seq = firsts
            .get(&room_id)
            .copied()
            .ok_or_else(|| StorageError::Internal("a room's seqs were not reserved".into()))?;
        rows.extend(
            indexes
                .into_iter()
                .enumerate()
                .map(|(k, i)| (i, first_seq + k as i64)),
        );
    }
    let index_of: HashMap<(i64, i64), usize> = rows
        .iter()
        .map(|(i, seq)| ((batch[*i].room_id, *seq), *i))
        .collect();
    for stored in insert_rows(conn, batch, &rows, now)? {
        let i = index_of
            .get(&(stored.room_id, stored.seq))
            .copied()
            .ok_or_else(|| StorageError::Internal("an inserted row matches no message".into()))?;
        out[i] = Some(Saved::New(stored));
    }

    for (i, first) in repeats {
        let original = out[first]
            .as_ref()
            .map(|s| Saved::Existing(s.message().clone()));
        out[i] = original;
    }

    out.into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| StorageError::Internal("a batch entry was left unresolved".into()))
}

/// The stored messages among these (sender, client id) pairs.
fn find_existing<'a>(
    conn: &mut DbConn,
    keys: impl Iterator<Item = (i64, &'a str)>,
) -> Result<HashMap<(i64, String), StoredMessage>, StorageError> {
    let keys: Vec<(i64, &str)> = keys.collect();
    let mut found = HashMap::new();
    if keys.is_empty() {
        return Ok(found);
    }
    if let DbConn::Postgres(pg) = conn {
        // One probe of the (sender, client id) unique index per pair: the lateral join
        // keeps the planner from a sequential scan, which it picks for `client_id =
        // ANY(…)` whenever its statistics lag behind a fast-growing table.
        use diesel::sql_types::{Array, BigInt, Text};
        let senders: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let cids: Vec<&str> = keys.iter().map(|k| k.1).collect();
        let rows: Vec<StoredMessage> = Prepared::new(&[
            "SELECT m.id, m.room_id, m.seq, m.sender_id, m.content, m.client_id, m.created_at \
             FROM unnest(",
            "::int8[], ",
            "::text[]) AS k(sender_id, client_id) \
             CROSS JOIN LATERAL (SELECT * FROM messages \
                 WHERE messages.sender_id = k.sender_id \
                   AND messages.client_id = k.client_id) AS m",
        ])
        .bind::<Array<BigInt>, _>(&senders)
        .bind::<Array<Text>, _>(&cids)
        .load(pg)?;
        for row in rows {
            if let Some(cid) = row.client_id.clone() {
                found.insert((row.sender_id, cid), row);
            }
        }
        return Ok(found);
    }
    // By client id alone (its own index: a sender filter would make the planner walk every
    // message of those senders); pairs are matched here. SQLite caps bound variables.
    for chunk in keys.chunks(400) {
        let cids: Vec<&str> = chunk.iter().map(|k| k.1).collect();
        let rows: Vec<StoredMessage> = messages::table
            .filter(messages::client_id.assume_not_null().eq_any(&cids))
            .select(StoredMessage::as_select())
            .load(conn)?;
        for row in rows {
            if let Some(cid) = row.client_id.clone()
                && chunk.contains(&(row.sender_id, cid.as_str()))
            {
                found.insert((row.sender_id, cid), row);
            }
        }
    }
    Ok(found)
}

/// What PostgreSQL returns of each inserted row.
#[derive(QueryableByName)]
struct Inserted {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    room_id: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    seq: i64,
}

/// Inserts the rows `(batch index, seq)`: one statement over arrays on PostgreSQL (one round
/// trip), row by row on SQLite (in-process, no round trips to save).
fn insert_rows(
    conn: &mut DbConn,
    batch: &[NewMessage],
    rows: &[(usize, i64)],
    at: NaiveDateTime,
) -> Result<Vec<StoredMessage>, StorageError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    match conn {
        DbConn::Postgres(pg) => {
            // One statement of constant text whatever the batch size: the rows travel as
            // arrays. A multi-row VALUES list had PostgreSQL parse six expressions per row
            // on every batch (`base_yyparse` and `copyObjectImpl` led its profile in the
            // persist benchmark).
            use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamp};
            let room_ids: Vec<i64> = rows.iter().map(|(i, _)| batch[*i].room_id).collect();
            let seqs: Vec<i64> = rows.iter().map(|(_, seq)| *seq).collect();
            let senders: Vec<i64> = rows.iter().map(|(i, _)| batch[*i].sender_id).collect();
            let contents: Vec<&str> = rows
                .iter()
                .map(|(i, _)| batch[*i].content.as_str())
                .collect();
            let cids: Vec<Option<&str>> = rows
                .iter()
                .map(|(i, _)| batch[*i].client_id.as_ref().map(ClientId::as_str))
                .collect();
            // The session forces custom plans (storage::conn), and that reaches the foreign-key
            // checks the insert fires: two trigger queries per row, planned anew each time,
            // were half of PostgreSQL's time per message. For the rest of this transaction
            // their cached plans are used instead.
            diesel::connection::SimpleConnection::batch_execute(
                pg,
                "SET LOCAL plan_cache_mode = auto",
            )?;
            let ids: Vec<Inserted> = Prepared::new(&[
                "INSERT INTO messages (room_id, seq, sender_id, content, client_id, created_at) \
                 SELECT r, s, u, c, k, ",
                " FROM unnest(",
                "::int8[], ",
                "::int8[], ",
                "::int8[], ",
                "::text[], ",
                "::text[]) AS t(r, s, u, c, k) \
                 RETURNING id, room_id, seq",
            ])
            .bind::<Timestamp, _>(at)
            .bind::<Array<BigInt>, _>(&room_ids)
            .bind::<Array<BigInt>, _>(&seqs)
            .bind::<Array<BigInt>, _>(&senders)
            .bind::<Array<Text>, _>(&contents)
            .bind::<Array<Nullable<Text>>, _>(&cids)
            .load(pg)?;
            // Only the ids come back; the rest is what was sent.
            let by_key: HashMap<(i64, i64), usize> = rows
                .iter()
                .map(|(i, seq)| ((batch[*i].room_id, *seq), *i))
                .collect();
            ids.into_iter()
                .map(|Inserted { id, room_id, seq }| {
                    let i = by_key.get(&(room_id, seq)).copied().ok_or_else(|| {
                        StorageError::Internal("an inserted row matches no message".into())
                    })?;
                    Ok(StoredMessage {
                        id,
                        room_id,
                        seq,
                        sender_id: batch[i].sender_id,
                        content: batch[i].content.as_str().to_owned(),
                        client_id: batch[i].client_id.clone().map(String::from),
                        created_at: at,
                    })
                })
                .collect()
        }
        DbConn::Sqlite(_) => rows
            .iter()
            .map(|(i, seq)| insert_row(conn, &batch[*i], *seq, at))
            .collect(),
    }
}

/// Inserts one row with a seq the caller reserved. Only for use inside a write transaction.
pub(crate) fn insert_row(
    conn: &mut DbConn,
    msg: &NewMessage,
    seq: i64,
    at: NaiveDateTime,
) -> Result<StoredMessage, StorageError> {
    let id: i64 = diesel::insert_into(messages::table)
        .values((
            messages::room_id.eq(msg.room_id),
            messages::seq.eq(seq),
            messages::sender_id.eq(msg.sender_id),
            messages::content.eq(msg.content.as_str()),
            messages::client_id.eq(msg.client_id.as_ref().map(ClientId::as_str)),
            messages::created_at.eq(at),
        ))
        .returning(messages::id)
        .get_result(conn)?;
    Ok(StoredMessage {
        id,
        room_id: msg.room_id,
        seq,
        sender_id: msg.sender_id,
        content: msg.content.as_str().to_owned(),
        client_id: msg.client_id.clone().map(String::from),
        created_at: at,
    })
}
