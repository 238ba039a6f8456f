-- The idempotency look-up now probes the (sender_id, client_id) unique index once per
-- pair (a lateral join), so the client-id index only cost an index insert per message.
DROP INDEX IF EXISTS messages_client_id_idx;
