DROP TABLE notify_levels;
DROP INDEX push_subscriptions_user_idx;
DROP TABLE push_subscriptions;
DROP TABLE vapid_keys;
