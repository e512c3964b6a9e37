import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";

// Each design gets its own database: ours every migration, the seed's the schema it was measured on.
await applyD1Migrations(env.DB, env.BENCH_MIGRATIONS);
await applyD1Migrations(env.SEED_DB, env.SEED_MIGRATIONS);
