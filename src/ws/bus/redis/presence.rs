//! Presence shared by every `ws` node, kept in Redis.
//!
//! Each room has a sorted set `<prefix>:presence:<room>` whose members are `user \n node`
//! and whose scores are the entries' expiry (Redis server time, in ms). A node adds its
//! entries when a user's first connection there joins, refreshes them every third of the
//! TTL, and removes them when the user's last connection there leaves. A node that dies
//! refreshes nothing: its entries expire, and the next node to reap the room announces the
//! leaves, so no ghost stays online. The scripts below make each step atomic, which is what
//! lets exactly one node announce a user's arrival or departure however many nodes the user
//! is connected to.

use redis::Script;

/// The Redis key of a room's presence set.
pub fn room_key(prefix: &str, room: &str) -> String {
    format!("{prefix}:presence:{room}")
}

/// The Redis key of the set of rooms that have presence entries (for reaping).
pub fn rooms_key(prefix: &str) -> String {
    format!("{prefix}:presence-rooms")
}

const NOW: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function user_of(m) return string.match(m, '^(.*)\n[^\n]*$') end
-- Publishes presence news to the other nodes in the same step as the change, so that a
-- user's join and leave reach them in the order they happened.
-- The envelope is envelope.rs's format (node, kind, room, user, JSON), tested there
-- against what these scripts publish.
local function announce(node, channel, kind, room, user)
  local json = cjson.encode({type = kind, room = room, sender = user})
  redis.call('PUBLISH', channel,
    node .. '\n' .. kind .. '\n' .. room .. '\n' .. user .. '\n' .. json)
end
";

/// KEYS: room set, rooms set. ARGV: node, events channel, ttl ms, room, user…
/// Adds or refreshes this node's entries; publishes and returns the users whose arrival is
/// news (no live entry of theirs anywhere before).
pub fn touch() -> Script {
    Script::new(&format!(
        r"{NOW}
local node, channel, ttl, room = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local live = {{}}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')) do
  live[user_of(m)] = true
end
local news = {{}}
for i = 5, #ARGV do
  local user = ARGV[i]
  local added = redis.call('ZADD', KEYS[1], now + ttl, user .. '\n' .. node)
  if added == 1 and not live[user] then
    table.insert(news, user)
    announce(node, channel, 'join', room, user)
  end
end
redis.call('PEXPIRE', KEYS[1], ttl * 2)
redis.call('SADD', KEYS[2], room)
return news
"
    ))
}

/// KEYS: room set. ARGV: node, events channel, room, user. Removes this node's entry;
/// publishes the leave and returns 1 when the user has no live entry left anywhere (their
/// departure is news), 0 otherwise. An entry that was
/// never written (the join bypassed Redis) still announces the leave: a duplicate leave is
/// harmless, a user stuck online is not.
pub fn drop_entry() -> Script {
    Script::new(&format!(
        r"{NOW}
local node, channel, room, user = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
redis.call('ZREM', KEYS[1], user .. '\n' .. node)
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')) do
  if user_of(m) == user then return 0 end
end
announce(node, channel, 'leave', room, user)
return 1
"
    ))
}

/// KEYS: room set, rooms set. ARGV: node, events channel, room. Removes expired entries (a
/// dead node's); publishes and returns the users left with no live entry anywhere.
pub fn reap() -> Script {
    Script::new(&format!(
        r"{NOW}
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now) end
local node, channel, room = ARGV[1], ARGV[2], ARGV[3]
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], room) end
local live = {{}}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')) do
  live[user_of(m)] = true
end
local gone, seen = {{}}, {{}}
for _, m in ipairs(expired) do
  local user = user_of(m)
  if not live[user] and not seen[user] then
    seen[user] = true
    table.insert(gone, user)
    announce(node, channel, 'leave', room, user)
  end
end
return gone
"
    ))
}

/// KEYS: room set. The users with a live entry, each once.
pub fn online() -> Script {
    Script::new(&format!(
        r"{NOW}
local users, seen = {{}}, {{}}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')) do
  local user = user_of(m)
  if not seen[user] then
    seen[user] = true
    table.insert(users, user)
  end
end
return users
"
    ))
}

/// The four scripts, built once.
pub struct Scripts {
    pub touch: Script,
    pub drop_entry: Script,
    pub reap: Script,
    pub online: Script,
}

impl Default for Scripts {
    fn default() -> Self {
        Self::new()
    }
}

impl Scripts {
    pub fn new() -> Self {
        Self {
            touch: touch(),
            drop_entry: drop_entry(),
            reap: reap(),
            online: online(),
        }
    }

    /// Loads every script into Redis's cache, so that pipelines can call them by hash.
    pub async fn load(
        &self,
        conn: &mut redis::aio::MultiplexedConnection,
    ) -> redis::RedisResult<()> {
        for script in [&self.touch, &self.drop_entry, &self.reap, &self.online] {
            script.prepare_invoke().load_async(conn).await?;
        }
        Ok(())
    }
}
