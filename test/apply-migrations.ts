import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";

// Every D1 database gets the same schema (D1_SHARDS in vitest.config.ts: DB and DB_2).
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
await applyD1Migrations(env.DB_2, env.TEST_MIGRATIONS);
