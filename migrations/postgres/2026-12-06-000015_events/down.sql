DROP INDEX webhook_deliveries_due_idx;
DROP INDEX webhook_deliveries_once_idx;
DROP TABLE webhook_deliveries;
DROP INDEX events_pending_idx;
DROP TABLE events;
