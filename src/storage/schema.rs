//! The one diesel schema, in types both backends share (see migrations/<backend>/).

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        email -> Nullable<Text>,
        password_hash -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    rooms (id) {
        id -> BigInt,
        name -> Text,
        description -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        last_seq -> BigInt,
    }
}

diesel::table! {
    messages (id) {
        id -> BigInt,
        room_id -> BigInt,
        seq -> BigInt,
        sender_id -> BigInt,
        content -> Text,
        client_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(messages -> rooms (room_id));
diesel::joinable!(messages -> users (sender_id));
diesel::allow_tables_to_appear_in_same_query!(users, rooms, messages);

#[diesel::declare_sql_function]
extern "SQL" {
    /// SQL `lower()`, the function behind the case-insensitive unique indexes.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}
