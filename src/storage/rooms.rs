//! The `rooms` table.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{memberships, rooms};
use super::{DbConn, Prepared, StorageError};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = rooms)]
pub struct Room {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub last_seq: i64,
    /// `public`, `private` or `direct` (see `domain::RoomKind`).
    pub kind: String,
    /// Read only.
    pub archived: bool,
    /// A direct room's members' ids, sorted, comma-separated.
    pub direct_key: Option<String>,
}

impl Room {
    /// The kind, read as the domain's type (an unknown one counts as private: the safe side).
    pub fn kind(&self) -> crate::domain::RoomKind {
        crate::domain::RoomKind::parse(&self.kind).unwrap_or(crate::domain::RoomKind::Private)
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = rooms)]
pub struct NewRoom<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub kind: &'a str,
    pub direct_key: Option<&'a str>,
}

/// Inserts a room; a taken name is a unique violation.
pub fn insert(conn: &mut DbConn, new: &NewRoom<'_>) -> Result<Room, StorageError> {
    let id: i64 = diesel::insert_into(rooms::table)
        .values(new)
        .returning(rooms::id)
        .get_result(conn)?;
    Ok(Room {
        id,
        name: new.name.to_owned(),
        description: new.description.to_owned(),
        created_by: new.created_by,
        created_at: new.created_at,
        last_seq: 0,
        kind: new.kind.to_owned(),
        archived: false,
        direct_key: new.direct_key.map(str::to_owned),
    })
}

pub fn list(conn: &mut DbConn) -> Result<Vec<Room>, StorageError> {
    Ok(rooms::table
        .order(rooms::id.asc())
        .select(Room::as_select())
        .load(conn)?)
}

/// One page of the rooms `user_id` can see (every public room and the members-only ones
/// they belong to), by name: at most `limit` whose names sort after `after` (`""`: from the
/// first), each with whether they are a member. A keyset page: the database walks the
/// unique index on `name` from `after` and stops at `limit`, however many rooms there are.
pub fn visible_page(
    conn: &mut DbConn,
    user_id: i64,
    after: &str,
    limit: i64,
) -> Result<Vec<(Room, bool)>, StorageError> {
    let rows: Vec<(Room, Option<i64>)> = rooms::table
        .left_join(
            memberships::table.on(memberships::room_id
                .eq(rooms::id)
                .and(memberships::user_id.eq(user_id))),
        )
        .filter(
            rooms::kind
                .eq(crate::domain::RoomKind::Public.as_str())
                .or(memberships::user_id.is_not_null()),
        )
        .filter(rooms::name.gt(after))
        .order(rooms::name.asc())
        .limit(limit)
        .select((Room::as_select(), memberships::user_id.nullable()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(room, member)| (room, member.is_some()))
        .collect())
}

pub fn find_by_id(conn: &mut DbConn, id: i64) -> Result<Option<Room>, StorageError> {
    Ok(rooms::table
        .find(id)
        .select(Room::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_by_direct_key(conn: &mut DbConn, key: &str) -> Result<Option<Room>, StorageError> {
    Ok(rooms::table
        .filter(rooms::direct_key.eq(key))
        .select(Room::as_select())
        .first(conn)
        .optional()?)
}

pub fn set_archived(conn: &mut DbConn, id: i64, archived: bool) -> Result<usize, StorageError> {
    Ok(diesel::update(rooms::table.find(id))
        .set(rooms::archived.eq(archived))
        .execute(conn)?)
}

pub fn find_by_name(conn: &mut DbConn, name: &str) -> Result<Option<Room>, StorageError> {
    Ok(rooms::table
        .filter(rooms::name.eq(name))
        .select(Room::as_select())
        .first(conn)
        .optional()?)
}

/// Reserves `count` consecutive seqs in a room and returns the first. Must run inside a
/// write transaction: the update takes the room's row lock (PostgreSQL) or rides on the
/// database write lock (SQLite), so concurrent writers queue here and seqs never repeat;
/// a rollback returns the seqs, so they never leave a gap either.
pub fn reserve_seqs(conn: &mut DbConn, room_id: i64, count: i64) -> Result<i64, StorageError> {
    reserve_seqs_many(conn, &[(room_id, count)])?
        .get(&room_id)
        .copied()
        .ok_or(StorageError::Query(diesel::result::Error::NotFound))
}

#[derive(QueryableByName)]
struct Reserved {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    last_seq: i64,
}

/// [`reserve_seqs`] for several rooms at once: `(room id, count)` → each room's first seq.
/// On PostgreSQL one statement locks the rooms' rows in id order (so concurrent batches
/// never deadlock) and updates them all: one round trip however many rooms a batch
/// touches. On SQLite, in-process and under the database write lock, room by room.
pub fn reserve_seqs_many(
    conn: &mut DbConn,
    wanted: &[(i64, i64)],
) -> Result<std::collections::HashMap<i64, i64>, StorageError> {
    use diesel::sql_types::{Array, BigInt};
    let mut first = std::collections::HashMap::with_capacity(wanted.len());
    match conn {
        DbConn::Postgres(pg) => {
            let ids: Vec<i64> = wanted.iter().map(|w| w.0).collect();
            let counts: Vec<i64> = wanted.iter().map(|w| w.1).collect();
            let rows: Vec<Reserved> = Prepared::new(&[
                "WITH wanted AS (SELECT unnest(",
                "::int8[]) AS id, unnest(",
                "::int8[]) AS n), \
                 locked AS MATERIALIZED (SELECT r.id FROM rooms r \
                     WHERE r.id = ANY(",
                "::int8[]) ORDER BY r.id FOR UPDATE) \
                 UPDATE rooms SET last_seq = rooms.last_seq + wanted.n \
                 FROM wanted, locked \
                 WHERE rooms.id = wanted.id AND locked.id = wanted.id \
                 RETURNING rooms.id, rooms.last_seq",
            ])
            .bind::<Array<BigInt>, _>(&ids)
            .bind::<Array<BigInt>, _>(&counts)
            .bind::<Array<BigInt>, _>(&ids)
            .load(pg)?;
            for row in rows {
                let n = wanted.iter().find(|w| w.0 == row.id).map_or(0, |w| w.1);
                first.insert(row.id, row.last_seq - n + 1);
            }
            if first.len() != wanted.len() {
                return Err(StorageError::Query(diesel::result::Error::NotFound));
            }
        }
        DbConn::Sqlite(_) => {
            for &(room_id, count) in wanted {
                let last: i64 = diesel::update(rooms::table.find(room_id))
                    .set(rooms::last_seq.eq(rooms::last_seq + count))
                    .returning(rooms::last_seq)
                    .get_result(conn)?;
                first.insert(room_id, last - count + 1);
            }
        }
    }
    Ok(first)
}
