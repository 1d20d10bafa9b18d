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
        deleted_by -> Nullable<Text>,
        email_key -> Nullable<Text>,
        moderator_id -> Nullable<BigInt>,
        source_key -> Nullable<Text>,
        origin -> Nullable<Text>,
        remote_account -> Nullable<Text>,
        score -> BigInt,
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

diesel::table! {
    admins (id) {
        id -> BigInt,
        username -> Text,
        display_name -> Text,
        password_hash -> Text,
        created_at -> BigInt,
        password_changed_at -> BigInt,
    }
}

diesel::table! {
    admin_sessions (token_hash) {
        token_hash -> Text,
        admin_id -> BigInt,
        created_at -> BigInt,
        last_seen_at -> BigInt,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> BigInt,
        moderator -> Text,
        action -> Text,
        comment_id -> Nullable<BigInt>,
        thread_id -> Nullable<BigInt>,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    bans (id) {
        id -> BigInt,
        kind -> Text,
        value -> Text,
        site -> Nullable<Text>,
        action -> Text,
        reason -> Nullable<Text>,
        created_by -> Text,
        created_at -> BigInt,
        expires_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        created_at -> BigInt,
        kind -> Text,
        sender -> Text,
        recipient -> Text,
        message -> Text,
        status -> Text,
        attempts -> BigInt,
        next_attempt_at -> BigInt,
        last_answer -> Nullable<Text>,
        claimed_by -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
        sent_at -> Nullable<BigInt>,
        person_key -> Nullable<Text>,
    }
}

diesel::table! {
    events (id) {
        id -> BigInt,
        at -> BigInt,
        kind -> Text,
        site -> Text,
        thread_id -> Nullable<BigInt>,
        comment_id -> Nullable<BigInt>,
        detail -> Text,
        dispatched_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    feed_entries (comment_id) {
        comment_id -> BigInt,
        site -> Text,
        thread_id -> BigInt,
        arrived_at -> BigInt,
        published_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        event_id -> Nullable<BigInt>,
        message_id -> Text,
        site -> Text,
        endpoint -> Text,
        kind -> Text,
        format -> Text,
        body -> Text,
        status -> Text,
        attempts -> BigInt,
        created_at -> BigInt,
        next_attempt_at -> BigInt,
        last_answer -> Nullable<Text>,
        claimed_by -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
        delivered_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    used_tokens (nonce) {
        nonce -> Text,
        used_at -> BigInt,
    }
}

diesel::table! {
    subscribers (id) {
        id -> BigInt,
        site -> Text,
        email -> Text,
        lang -> Text,
        created_at -> BigInt,
        confirmed_at -> Nullable<BigInt>,
        confirm_sent_at -> Nullable<BigInt>,
        unsubscribe_key -> Text,
    }
}

diesel::table! {
    thread_subscriptions (subscriber_id, thread_id) {
        subscriber_id -> BigInt,
        thread_id -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    reply_digests (id) {
        id -> BigInt,
        subscriber_id -> BigInt,
        thread_id -> BigInt,
        first_at -> BigInt,
        comment_ids -> Text,
    }
}

diesel::table! {
    /// Moved by each batch `afterword import` commits, so running servers drop their caches.
    change_epoch (id) {
        id -> BigInt,
        epoch -> BigInt,
    }
}

diesel::table! {
    /// Source ids of imported comments removed for good here: an import skips them.
    import_tombstones (site, source_key) {
        site -> Text,
        source_key -> Text,
        removed_at -> BigInt,
    }
}

diesel::table! {
    /// The post elsewhere that announced a thread, and its poller's state.
    remote_posts (thread_id) {
        thread_id -> BigInt,
        kind -> Text,
        url -> Text,
        api_base -> Text,
        remote_id -> Text,
        linked_at -> BigInt,
        next_poll_at -> BigInt,
        polled_at -> Nullable<BigInt>,
        failures -> BigInt,
        last_error -> Nullable<Text>,
        likes -> BigInt,
        reposts -> BigInt,
        claimed_by -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
    }
}

diesel::table! {
    remote_bans (id) {
        id -> BigInt,
        kind -> Text,
        value -> Text,
        site -> Nullable<Text>,
        action -> Text,
        reason -> Nullable<Text>,
        created_by -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    webmentions (id) {
        id -> BigInt,
        site -> Text,
        source -> Text,
        target -> Text,
        status -> Text,
        kind -> Nullable<Text>,
        thread_id -> Nullable<BigInt>,
        comment_id -> Nullable<BigInt>,
        author_name -> Nullable<Text>,
        author_url -> Nullable<Text>,
        received_at -> BigInt,
        verified_at -> Nullable<BigInt>,
        attempts -> BigInt,
        next_attempt_at -> BigInt,
        last_error -> Nullable<Text>,
        claimed_by -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
    }
}

diesel::joinable!(comments -> threads (thread_id));
diesel::joinable!(feed_entries -> comments (comment_id));
diesel::joinable!(remote_posts -> threads (thread_id));
diesel::joinable!(reply_digests -> subscribers (subscriber_id));
diesel::joinable!(thread_subscriptions -> subscribers (subscriber_id));
diesel::joinable!(admin_sessions -> admins (admin_id));
diesel::joinable!(reactions -> threads (thread_id));
diesel::joinable!(reaction_counts -> threads (thread_id));
diesel::allow_tables_to_appear_in_same_query!(
    threads,
    comments,
    reactions,
    server_secrets,
    admins,
    admin_sessions,
    audit_log,
    bans,
    reaction_counts,
    outbox,
    used_tokens,
    events,
    feed_entries,
    webhook_deliveries,
    subscribers,
    thread_subscriptions,
    reply_digests,
    change_epoch,
    remote_posts,
    remote_bans,
    webmentions
);
