import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";

// Both designs get the same D1 schema (migrations/), each in its own database.
await applyD1Migrations(env.DB, env.BENCH_MIGRATIONS);
await applyD1Migrations(env.SEED_DB, env.BENCH_MIGRATIONS);
