-- Local demo only: how many times each demo job has been delivered (recovery re-enqueues
-- included), so a job posted with succeedAfter: n fails n times and then succeeds.
CREATE TABLE demo_deliveries (
  tenant_id  TEXT    NOT NULL,
  job_id     TEXT    NOT NULL,
  deliveries INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, job_id)
) WITHOUT ROWID;
