// Tenants spread over several D1 databases. D1_SHARDS names their bindings; the first, DB, is the
// primary: it also holds the tokens, the parked messages and the tenant -> database table. A
// tenant's database is chosen once, the first time its ledger flushes (hashed over the list as
// it is then), and recorded in the primary, so adding a database later moves nobody: new
// tenants spread over the longer list, existing ones stay where their rows are.

import { readConfig } from "../config";
import { prepare, sql } from "../sql";

/** An assignment never changes, so an isolate may keep what it has read. */
const assigned = new Map<string, string>();

/** Drops what this isolate has read, as a fresh isolate starts (tests read the record itself). */
export function forgetAssignments(): void {
  assigned.clear();
}

export interface Shard {
  name: string;
  db: D1Database;
}

function bindingOf(env: Env, name: string): D1Database {
  const db = (env as unknown as Record<string, unknown>)[name] as D1Database | undefined;
  if (!db || typeof db.prepare !== "function") {
    throw new Error(`D1_SHARDS names "${name}", but there is no D1 binding of that name: add a [[d1_databases]] entry with binding = "${name}" to wrangler.toml`);
  }
  return db;
}

export function allShards(env: Env): Shard[] {
  return readConfig(env).d1.shards.map((name) => ({ name, db: bindingOf(env, name) }));
}

/** FNV-1a: stable across deploys and runtimes, which is all a first placement needs. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function known(env: Env, tenant: string, name: string): D1Database {
  if (!readConfig(env).d1.shards.includes(name)) {
    throw new Error(`tenant ${tenant} is kept in D1 database "${name}", which D1_SHARDS no longer lists: never remove a database from it`);
  }
  assigned.set(tenant, name);
  return bindingOf(env, name);
}

/** The database of a tenant's failures, assigning one if it has none yet (what a flush needs). */
export async function shardFor(env: Env, tenant: string): Promise<D1Database> {
  const existing = await shardIfAssigned(env, tenant);
  if (existing) return existing;
  const shards = readConfig(env).d1.shards;
  const candidate = shards[hash(tenant) % shards.length]!;
  // Insert-if-absent, then read: of two first flushes racing, the first write wins for both.
  const [, row] = await env.DB.batch<{ shard: string }>([
    prepare(env.DB, sql`INSERT INTO tenant_shards (tenant_id, shard, assigned_at) VALUES (${tenant}, ${candidate}, ${Date.now()}) ON CONFLICT (tenant_id) DO NOTHING`),
    prepare(env.DB, sql`SELECT shard FROM tenant_shards WHERE tenant_id = ${tenant}`),
  ]);
  return known(env, tenant, row!.results[0]!.shard);
}

/** The database of a tenant's failures, or null if it has never flushed (what a read needs: it writes nothing). */
export async function shardIfAssigned(env: Env, tenant: string): Promise<D1Database | null> {
  const cached = assigned.get(tenant);
  if (cached) return known(env, tenant, cached);
  const row = await prepare(env.DB, sql`SELECT shard FROM tenant_shards WHERE tenant_id = ${tenant}`).first<{ shard: string }>();
  return row ? known(env, tenant, row.shard) : null;
}
