//! `chatapp seed`: demo rooms, users and messages. Idempotent: what exists is left alone,
//! so a second run changes nothing.

use anyhow::Context;

use super::demo_data::{self, ROOMS, USER_COUNT};
use crate::config::Settings;
use crate::domain::{MessageContent, Role, RoomKind};
use crate::storage::messages::{self, NewMessage};
use crate::storage::{Db, DbConn, StorageError, now_utc, rooms, users};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SeedReport {
    pub users: usize,
    pub rooms: usize,
    pub messages: usize,
}

pub fn run(settings: &Settings) -> anyhow::Result<()> {
    let url = settings.database_url();
    let db = Db::connect(&url, 1, settings.database_timeout())
        .with_context(|| format!("cannot open the database {}", url.redacted()))?;
    for name in super::migrate::apply(&db)? {
        println!("applied {name}");
    }
    let report = seed(&db, settings.auth.bcrypt_cost)?;
    if report == SeedReport::default() {
        println!(
            "demo data already present in {}: nothing to do",
            url.redacted()
        );
    } else {
        println!(
            "seeded {}: {} users, {} rooms, {} messages",
            url.redacted(),
            report.users,
            report.rooms,
            report.messages
        );
    }
    Ok(())
}

/// Loads what is missing of the demo data and reports what it added.
pub fn seed(db: &Db, bcrypt_cost: u32) -> anyhow::Result<SeedReport> {
    let mut conn = db.get()?;
    let mut report = SeedReport::default();

    let mut missing = Vec::new();
    for n in 1..=USER_COUNT {
        if users::find_by_username(&mut conn, &demo_data::username(n))?.is_none() {
            missing.push(n);
        }
    }
    let now = now_utc();
    for (n, hash) in hash_passwords(&missing, bcrypt_cost)? {
        let name = demo_data::username(n);
        let email = format!("{name}@example.com");
        let new = users::NewUser {
            username: &name,
            email: Some(&email),
            password_hash: &hash,
            created_at: now,
            updated_at: now,
            role: if n == 1 {
                Role::Admin.as_str()
            } else {
                Role::Member.as_str()
            },
        };
        report.users += inserted(users::insert(&mut conn, &new))?;
    }

    let mut user_ids = Vec::with_capacity(USER_COUNT);
    for n in 1..=USER_COUNT {
        let user = users::find_by_username(&mut conn, &demo_data::username(n))?
            .with_context(|| format!("demo user user{n} is missing after seeding"))?;
        if n == 1 && user.role() != Role::Admin {
            // user1 is the demo's administrator, whoever created the account.
            users::set_role(&mut conn, user.id, Role::Admin)?;
        }
        user_ids.push(user.id);
    }

    for (index, (name, description, count)) in ROOMS.iter().enumerate() {
        let room = match rooms::find_by_name(&mut conn, name)? {
            Some(room) => room,
            None => {
                let new = rooms::NewRoom {
                    name,
                    description,
                    created_by: user_ids.first().copied(),
                    created_at: now,
                    kind: RoomKind::Public.as_str(),
                    direct_key: None,
                };
                match rooms::insert(&mut conn, &new) {
                    Ok(room) => {
                        report.rooms += 1;
                        room
                    }
                    Err(e) if e.is_unique_violation() => rooms::find_by_name(&mut conn, name)?
                        .with_context(|| format!("room {name} vanished"))?,
                    Err(e) => return Err(e.into()),
                }
            }
        };
        report.messages += seed_room(&mut conn, room.id, index, *count, &user_ids)?;
    }
    Ok(report)
}

fn seed_room(
    conn: &mut DbConn,
    room_id: i64,
    index: usize,
    count: usize,
    user_ids: &[i64],
) -> Result<usize, StorageError> {
    let batch = demo_data::conversation(index, count, now_utc())
        .into_iter()
        .map(|m| {
            let content = MessageContent::parse(&m.content)
                .map_err(|e| StorageError::Internal(format!("demo message: {e}")))?;
            let msg = NewMessage {
                room_id,
                sender_id: user_ids[m.user - 1],
                content,
                client_id: None,
            };
            Ok((msg, m.at))
        })
        .collect::<Result<Vec<_>, StorageError>>()?;
    messages::import_into_empty_room(conn, room_id, &batch)
}

/// 1 if a row was inserted, 0 if a concurrent seed inserted it first.
fn inserted<T>(result: Result<T, StorageError>) -> Result<usize, StorageError> {
    match result {
        Ok(_) => Ok(1),
        Err(e) if e.is_unique_violation() => Ok(0),
        Err(e) => Err(e),
    }
}

/// bcrypt is slow by design: hash on every core at once.
fn hash_passwords(numbers: &[usize], cost: u32) -> anyhow::Result<Vec<(usize, String)>> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = numbers.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = numbers
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|&n| Ok((n, crate::passwords::hash(&demo_data::password(n), cost)?)))
                        .collect::<anyhow::Result<Vec<_>>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(numbers.len());
        for handle in handles {
            let part = handle
                .join()
                .map_err(|_| anyhow::anyhow!("a password-hashing thread panicked"))??;
            all.extend(part);
        }
        Ok(all)
    })
}
