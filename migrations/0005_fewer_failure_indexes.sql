-- Every index is a row written per failure and per repeat. Time-range lookups are per tenant
-- and served by failures_by_status (tenant_id, status, last_failed_at); the global time index
-- cost a row per write for queries nobody makes.
DROP INDEX IF EXISTS failures_by_time;
