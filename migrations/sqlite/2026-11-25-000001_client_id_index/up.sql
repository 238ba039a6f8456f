-- The idempotency check looks stored messages up by client id for a whole batch at once;
-- the (sender_id, client_id) key alone makes that a scan of every message of the senders.
CREATE INDEX messages_client_id_idx ON messages (client_id) WHERE client_id IS NOT NULL;
