-- Every index is a row written per failure (and per repeat that names its columns). D1 keeps only
-- the indexes a query of ours uses; each failure is otherwise one row:
--   failures            primary key (tenant_id, job_id): the API's archived failure, the service's
--                       reportSucceeded lookup, and D1 retention's scan of one tenant's rows.
--   user_notifications  user_notifications_by_user (tenant_id, user_id, created_at): a user's inbox,
--                       newest first, and its unread count (src/sinks/inbox.ts).
-- Cross-tenant totals and by-status views read tenant_summaries, one row per tenant written with
-- each flush, instead of grouping every failure.
DROP INDEX IF EXISTS failures_by_status;
DROP INDEX IF EXISTS failures_by_user;
DROP INDEX IF EXISTS failure_groups_by_time;
DROP INDEX IF EXISTS user_notifications_unread;
DROP INDEX IF EXISTS dlq_recovery_queue_by_status;

-- A tenant's counters as its ledger last flushed them (absolute values: a repeated flush writes the
-- same row), kept in the database that holds the tenant's failures. by_class and by_status are
-- JSON objects of counts; pruned_at is when D1 retention last looked at the tenant's rows.
CREATE TABLE tenant_summaries (
  tenant_id   TEXT    NOT NULL PRIMARY KEY,
  total       INTEGER NOT NULL,
  occurrences INTEGER NOT NULL,
  by_class    TEXT    NOT NULL,
  by_status   TEXT    NOT NULL,
  updated_at  INTEGER NOT NULL,
  pruned_at   INTEGER
) WITHOUT ROWID;

-- Tenants with failures here get their summary from what D1 holds; their next flush replaces it
-- with the ledger's counters (updated_at 0 is older than any flush).
INSERT INTO tenant_summaries (tenant_id, total, occurrences, by_class, by_status, updated_at)
  SELECT t.tenant_id, t.total, t.occurrences,
    (SELECT json_group_object(class, n) FROM (SELECT class, COUNT(*) AS n FROM failures WHERE tenant_id = t.tenant_id GROUP BY class)),
    (SELECT json_group_object(status, n) FROM (SELECT status, COUNT(*) AS n FROM failures WHERE tenant_id = t.tenant_id GROUP BY status)),
    0
  FROM (SELECT tenant_id, COUNT(*) AS total, SUM(occurrences) AS occurrences FROM failures GROUP BY tenant_id) t;
