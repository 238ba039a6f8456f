-- The foreign keys of `messages` cost PostgreSQL about half of its time per stored message:
-- each row fired two trigger queries, planned anew each time (a profile of the persist
-- benchmark: 56 % of the backend's samples under AfterTriggerEndQuery). The one writer of
-- messages checks both already, in the same transaction or before it:
--   * room_id: the seq reservation `UPDATE rooms … RETURNING` locks the room's row, and a
--     batch whose room did not answer is rolled back;
--   * sender_id: `front` stores a sender only once it has found the user (ChatService).
-- Rooms and users are never deleted. SQLite keeps its (cheap) foreign keys.
ALTER TABLE messages
    DROP CONSTRAINT IF EXISTS messages_room_id_fkey,
    DROP CONSTRAINT IF EXISTS messages_sender_id_fkey;
