-- A webhook worker gives back what it claimed and did not send after every batch
-- (`release_deliveries`: WHERE claimed_by = its name). Without an index that was a scan of
-- every delivery ever kept (seven days of them, bodies included) per batch: under a
-- steady stream of comments the writer spent most of its time reading the table back
-- (benches/webhooks.sh). Only the rows being sent have a claim: the index stays tiny.
CREATE INDEX webhook_deliveries_claimed_idx ON webhook_deliveries (claimed_by)
    WHERE claimed_by IS NOT NULL;
