-- Tenant API tokens. The token itself is shown once, when it is created; only its SHA-256
-- (hex) is kept, so a copy of this table does not let anyone call the API.
CREATE TABLE api_tokens (
  id          TEXT    NOT NULL PRIMARY KEY,  -- public handle, "tok_" + 16 hex digits
  tenant_id   TEXT    NOT NULL,
  label       TEXT    NOT NULL,              -- who holds it; recorded as the actor in the audit trail
  token_hash  TEXT    NOT NULL UNIQUE,       -- lower-case hex SHA-256 of the whole token
  created_at  INTEGER NOT NULL,
  created_by  TEXT    NOT NULL,
  revoked_at  INTEGER
) WITHOUT ROWID;

CREATE INDEX api_tokens_by_tenant ON api_tokens (tenant_id, created_at);
