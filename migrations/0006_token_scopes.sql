-- Token scopes: "read" may only view; "operate" may also requeue, abandon, run bulk operations
-- and edit-and-requeue. Tokens created before scopes existed keep working as "operate".
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'operate' CHECK (scope IN ('read', 'operate'));
