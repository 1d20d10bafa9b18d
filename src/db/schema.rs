// The tables of migrations/{sqlite,postgres}; both backends share this one schema.

diesel::table! {
    threads (id) {
        id -> BigInt,
        site -> Text,
        slug -> Text,
        title -> Nullable<Text>,
        url -> Nullable<Text>,
        locked -> Bool,
        comment_count -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    comments (id) {
        id -> BigInt,
        thread_id -> BigInt,
        parent_id -> Nullable<BigInt>,
        root_id -> Nullable<BigInt>,
        status -> Text,
        body -> Text,
        html -> Text,
        author -> Nullable<Text>,
        email -> Nullable<Text>,
        website -> Nullable<Text>,
        avatar -> Text,
        notify_replies -> Bool,
        edit_token_hash -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        created_at -> BigInt,
        edited_at -> Nullable<BigInt>,
        deleted_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    reactions (id) {
        id -> BigInt,
        thread_id -> BigInt,
        comment_id -> Nullable<BigInt>,
        kind -> Text,
        visitor_hash -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    /// Kept by every reaction toggle: `comment_key` is the comment's id, 0 for the post.
    reaction_counts (thread_id, comment_key, kind) {
        thread_id -> BigInt,
        comment_key -> BigInt,
        kind -> Text,
        count -> BigInt,
    }
}

diesel::table! {
    server_secrets (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::joinable!(comments -> threads (thread_id));
diesel::joinable!(reactions -> threads (thread_id));
diesel::joinable!(reaction_counts -> threads (thread_id));
diesel::allow_tables_to_appear_in_same_query!(threads, comments, reactions, server_secrets);
diesel::allow_tables_to_appear_in_same_query!(threads, reaction_counts);
