-- Which D1 database holds each tenant's failures (read from the primary database only; every
-- database gets the same schema, so any of them can become the primary's copy). A tenant's
-- row is written once, the first time the tenant is flushed, and never changes: adding a
-- database to D1_SHARDS moves no existing tenant.
CREATE TABLE tenant_shards (
  tenant_id   TEXT PRIMARY KEY,
  shard       TEXT NOT NULL,
  assigned_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Tenants that already have failures here stay here.
INSERT INTO tenant_shards (tenant_id, shard, assigned_at)
  SELECT DISTINCT tenant_id, 'DB', CAST(unixepoch('subsec') * 1000 AS INTEGER) FROM failures;
