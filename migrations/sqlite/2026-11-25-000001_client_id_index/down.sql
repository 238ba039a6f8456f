DROP INDEX messages_client_id_idx;
