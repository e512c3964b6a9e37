-- D1 retention no longer keeps its own once-a-day gate: each tenant's ledger schedules one pass a
-- day, so tenant_summaries.pruned_at (added by 0011) is not read or written any more.
ALTER TABLE tenant_summaries DROP COLUMN pruned_at;
