//! The one diesel schema, in types both backends share (see migrations/<backend>/).

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        email -> Nullable<Text>,
        password_hash -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        role -> Text,
        active -> Bool,
        display_name -> Nullable<Text>,
        totp_secret -> Nullable<Text>,
        totp_enabled -> Bool,
        totp_last_step -> Nullable<BigInt>,
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
        kind -> Text,
        archived -> Bool,
        direct_key -> Nullable<Text>,
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
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    memberships (room_id, user_id) {
        room_id -> BigInt,
        user_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    invites (code) {
        code -> Text,
        kind -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        used_by -> Nullable<BigInt>,
        revoked -> Bool,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        actor_id -> Nullable<BigInt>,
        action -> Text,
        target -> Text,
        detail -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    room_events (id) {
        id -> BigInt,
        room_id -> BigInt,
        seq -> BigInt,
        kind -> Text,
        actor_id -> Nullable<BigInt>,
        subject_id -> Nullable<BigInt>,
        message_id -> Nullable<BigInt>,
        client_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> BigInt,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
        user_agent -> Text,
        client_addr -> Text,
        ended_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    password_resets (token_hash) {
        token_hash -> Text,
        user_id -> BigInt,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    recovery_codes (user_id, code_hash) {
        user_id -> BigInt,
        code_hash -> Text,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    vapid_keys (name) {
        name -> Text,
        private_key -> Text,
        public_key -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    push_subscriptions (id) {
        id -> BigInt,
        user_id -> BigInt,
        endpoint -> Text,
        p256dh -> Text,
        auth -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    notify_levels (user_id, room_id) {
        user_id -> BigInt,
        room_id -> BigInt,
        level -> Text,
    }
}

diesel::joinable!(messages -> rooms (room_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(messages -> users (sender_id));
diesel::joinable!(memberships -> rooms (room_id));
diesel::joinable!(memberships -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    rooms,
    messages,
    memberships,
    invites,
    audit_log,
    sessions
);

diesel::joinable!(push_subscriptions -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(push_subscriptions, users);

#[diesel::declare_sql_function]
extern "SQL" {
    /// SQL `lower()`, the function behind the case-insensitive unique indexes.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}
