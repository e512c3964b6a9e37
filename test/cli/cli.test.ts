// The `dlq` CLI end to end: `node bin/dlq.mjs` against the real worker under `wrangler dev` on
// loopback, with local D1, R2, Queues and Durable Objects. Failures are seeded the way a
// person would locally, through /dev/dlq; nothing is mocked.

import { readFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { dlq, freePort, startWorker, type RunningWorker } from "./harness";

const ADMIN = `cli-admin-${Math.random().toString(36).slice(2)}`;
const TENANT = "acme";
let worker: RunningWorker;
/** The same worker with a broken setting: every ledger call fails on the server. */
let broken: RunningWorker;
let scratch: string;

const admin = () => ({ DLQ_URL: worker.url, DLQ_TOKEN: ADMIN });
const json = (text: string) => JSON.parse(text) as any;
const seededAt = Date.now() - 2 * 3600_000;

function envelope(jobId: string, minute: number, error: { name: string; message: string; status: number }, queue = "jobs") {
  // Recent (the ledger keeps 30 days), in a fixed order: a higher minute is newer.
  const at = new Date(seededAt + minute * 60_000).toISOString();
  return {
    v: 1,
    tenantId: TENANT,
    jobId,
    queue,
    // A demo job that succeeds when it is requeued to `jobs`.
    body: { tenantId: TENANT, jobId, fail: "none" },
    error,
    attempts: 4,
    firstFailedAt: at,
    lastFailedAt: at,
  };
}

async function deadLetter(body: unknown) {
  const res = await fetch(`${worker.url}/dev/dlq`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  expect(res.status).toBe(202);
}

const invalid = (n: number) => ({ name: "ValidationError", message: `field ${n} is invalid`, status: 422 });
const crashed = { name: "Error", message: "smtp relay answered 500", status: 500 };

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "dlq-cli-out-"));
  [worker, broken] = await Promise.all([
    startWorker({ migrate: true, vars: { DEV_ROUTES: "true", ADMIN_TOKEN: ADMIN, FLUSH_DELAY_SECONDS: "1" } }),
    startWorker({ migrate: false, vars: { ADMIN_TOKEN: ADMIN, LEDGER_MAX_ROWS: "lots" } }),
  ]);
  console.log(`wrangler dev answered after ${worker.startupMs} ms (migrations included); the misconfigured one after ${broken.startupMs} ms`);

  // acme: 5 user errors on `jobs` (u1 newest … u5 oldest), 2 system errors on `emails`, 1 raw body; beta: 1.
  for (let i = 1; i <= 5; i++) await deadLetter(envelope(`u${i}`, 50 - i, invalid(i)));
  await deadLetter(envelope("s1", 20, crashed, "emails"));
  await deadLetter(envelope("s2", 21, crashed, "emails"));
  await deadLetter({ tenantId: TENANT, jobId: "raw-1", note: "dead-lettered by the platform" });
  await deadLetter({ ...envelope("b1", 5, invalid(9)), tenantId: "beta", body: { tenantId: "beta", jobId: "b1", fail: "none" } });

  // The DLQ consumer batches for up to 2 s; the ledger flushes to D1 a second later.
  await vi.waitFor(
    async () => {
      const stats = json((await dlq(["stats", "--json"], admin())).stdout);
      expect(stats).toMatchObject({ scope: "all", total: 9 });
    },
    { timeout: 60_000, interval: 250 },
  );
}, 240_000);

afterAll(async () => {
  await Promise.all([worker?.stop(), broken?.stop(), scratch ? rm(scratch, { recursive: true, force: true }) : undefined]);
});

describe("dlq stats", () => {
  it("shows a tenant's live counters", async () => {
    const r = await dlq(["stats", "--tenant", TENANT], admin());
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Tenant acme: 8 failures");
    expect(r.stdout).toMatch(/by class\s+USER_ERROR 5 · SYSTEM_ERROR 2 · UNKNOWN 1/);
    expect(r.stdout).toMatch(/by queue\s+.*jobs 6/);
    expect(r.stdout).toMatch(/by queue\s+.*emails 2/);
  });

  it("gives the admin every tenant without --tenant, and scripts the JSON", async () => {
    const r = await dlq(["stats"], admin());
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("All tenants");
    expect(r.stdout).toMatch(/^acme\s+8\s/m);
    expect(r.stdout).toMatch(/^beta\s+1\s/m);
    const j = await dlq(["stats", "--tenant", TENANT, "--json"], admin());
    expect(json(j.stdout)).toMatchObject({ tenant: TENANT, total: 8, byClass: { USER_ERROR: 5, SYSTEM_ERROR: 2, UNKNOWN: 1 } });
  });
});

describe("dlq list", () => {
  it("pages through every failure with the cursor it prints", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await dlq(["list", "--tenant", TENANT, "--limit", "3", "--json", ...(cursor ? ["--cursor", cursor] : [])], admin());
      expect(r.code).toBe(0);
      const page = json(r.stdout);
      seen.push(...page.items.map((i: { jobId: string }) => i.jobId));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(8);
    expect(new Set(seen)).toEqual(new Set(["raw-1", "u1", "u2", "u3", "u4", "u5", "s1", "s2"]));
  });

  it("prints a readable table and the command for the next page", async () => {
    const r = await dlq(["list", "--tenant", TENANT, "--limit", "2", "--class", "USER_ERROR"], admin());
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^JOB ID\s+QUEUE\s+CLASS\s+STATUS\s+TRIES\s+LAST FAILED\s+REASON$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(["u1", "u2"]);
    expect(lines[1]).toContain("field 1 is invalid");
    const next = /More: (dlq list .*--cursor (\S+))/.exec(r.stderr);
    expect(next?.[1]).toContain("--class USER_ERROR --limit 2");
    const second = await dlq(["list", "--tenant", TENANT, "--limit", "2", "--class", "USER_ERROR", "--cursor", next![2]!], admin());
    expect(second.stdout.trimEnd().split("\n").slice(1).map((l) => l.split(/\s+/)[0])).toEqual(["u3", "u4"]);
  });

  it("filters by queue and status", async () => {
    const r = await dlq(["list", "--tenant", TENANT, "--filter", "queue=emails", "--status", "open", "--json"], admin());
    expect(json(r.stdout).items.map((i: { jobId: string }) => i.jobId).sort()).toEqual(["s1", "s2"]);
  });

  it("searches with -q and matches a body field with --field/--value, with the filters", async () => {
    const q = await dlq(["list", "--tenant", TENANT, "-q", "SMTP relay", "--json"], admin());
    expect(q.code, q.stderr).toBe(0);
    expect(json(q.stdout).items.map((i: { jobId: string }) => i.jobId).sort()).toEqual(["s1", "s2"]);
    const field = await dlq(["list", "--tenant", TENANT, "--field", "jobId", "--value", "u3", "--class", "USER_ERROR"], admin());
    expect(field.code, field.stderr).toBe(0);
    expect(field.stdout.trimEnd().split("\n").slice(1).map((l) => l.split(/\s+/)[0])).toEqual(["u3"]);
    const paged = await dlq(["list", "--tenant", TENANT, "--q", "field ", "--limit", "2"], admin());
    expect(paged.stderr).toMatch(/More: dlq list --tenant acme --q 'field ' --limit 2 --cursor \S+/);
    expect((await dlq(["list", "--tenant", TENANT, "-q", "no such words"], admin())).stdout).toBe("No failures match.\n");
  });
});

describe("dlq show", () => {
  it("shows one failure with its error and body", async () => {
    const r = await dlq(["show", "u3", "--tenant", TENANT], admin());
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Job u3 (tenant acme)");
    expect(r.stdout).toMatch(/error\s+ValidationError: field 3 is invalid \(status 422\)/);
    expect(r.stdout).toContain('"fail": "none"');
    const j = json((await dlq(["show", "u3", "--tenant", TENANT, "--json"], admin())).stdout);
    expect(j).toMatchObject({ jobId: "u3", class: "USER_ERROR", body: { jobId: "u3" }, history: [] });
  });
});

describe("dlq groups", () => {
  it("lists the failure groups", async () => {
    const r = await dlq(["groups", "--tenant", TENANT], admin());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^[0-9a-f]{16}\s+5\s+USER_ERROR\s+jobs/m);
    expect(r.stdout).toMatch(/^[0-9a-f]{16}\s+2\s+SYSTEM_ERROR\s+emails/m);
    // the last 24 hours per group, the current hour last
    expect(r.stdout).toMatch(/^[0-9a-f]{16}\s+5\s+USER_ERROR\s+jobs\s+.*\s·{22}\S\S\s/m);
  });

  it("resolves a group with a note, reopens it, and shows who did what", async () => {
    const group = json((await dlq(["groups", "--tenant", TENANT, "--json"], admin())).stdout).items.find((g: any) => g.count === 2).fingerprint;
    const resolved = await dlq(["groups", "resolve", group, "--note", "fixed in deploy 42", "--tenant", TENANT], admin());
    expect(resolved.code, resolved.stderr).toBe(0);
    expect(resolved.stdout).toMatch(new RegExp(`^Group ${group} is resolved \\(by admin, `));
    expect((await dlq(["groups", "--tenant", TENANT], admin())).stdout).toMatch(new RegExp(`^${group}\\s+2\\s+SYSTEM_ERROR\\s+emails\\s+resolved\\s`, "m"));
    expect((await dlq(["groups", "reopen", group, "--tenant", TENANT], admin())).stdout).toMatch(/ is open\/ongoing /);
    const history = await dlq(["groups", "history", group, "--tenant", TENANT], admin());
    expect(history.stdout.trimEnd().split("\n").slice(1).map((l) => l.split(/\s+/).slice(1, 3).join(" "))).toEqual(["admin reopen", "admin resolve"]);
    expect(history.stdout).toContain('{"note":"fixed in deploy 42"}');
    const unknown = await dlq(["groups", "ack", "ffffffffffffffff", "--tenant", TENANT], admin());
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("no group ffffffffffffffff in this tenant");
    expect((await dlq(["groups", "ack", "--tenant", TENANT], admin())).code).toBe(2);
  });

  it("draws failures over time for the tenant and for one group", async () => {
    const s = json((await dlq(["series", "--tenant", TENANT, "--json"], admin())).stdout);
    const total = (c: number[]) => c.reduce((a, b) => a + b, 0);
    expect([total(s.hours.counts), total(s.days.counts), s.minutes.counts.length]).toEqual([8, 8, 60]);
    const group = json((await dlq(["groups", "--tenant", TENANT, "--json"], admin())).stdout).items.find((g: any) => g.count === 5).fingerprint;
    const r = await dlq(["series", "--tenant", TENANT, "--group", group], admin());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`group ${group}`);
    expect(r.stdout).toMatch(/last 24 h, per hour\s+·{22}\S\S {2}5 \(max [1-5]\)/);
  });
});

describe("recovery", () => {
  it("requeues one job and abandons another, on the record", async () => {
    const rq = await dlq(["requeue", "u1", "--tenant", TENANT], admin());
    expect(rq.code, rq.stderr).toBe(0);
    expect(rq.stdout).toBe("Requeued u1 to jobs: now retrying.\n");

    const ab = await dlq(["abandon", "u2", "--tenant", TENANT, "--reason", "bad data from the import"], admin());
    expect(ab.code, ab.stderr).toBe(0);
    expect(ab.stdout).toBe("Abandoned u2: abandoned: bad data from the import.\n");
    const shown = json((await dlq(["show", "u2", "--tenant", TENANT, "--json"], admin())).stdout);
    expect(shown).toMatchObject({ status: "abandoned", history: [{ action: "abandon", actor: "admin", detail: { reason: "bad data from the import" } }] });
  });

  it("previews a bulk requeue, then runs it to the end", async () => {
    const filter = ["--tenant", TENANT, "--class", "USER_ERROR", "--status", "open"];
    const dry = await dlq(["requeue", ...filter, "--dry-run"], admin());
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^Would requeue 3 failures, e\.g\. u3, u4, u5\.\nNothing was changed \(dry run\)\.\n$/);
    expect(json((await dlq(["list", ...filter, "--json"], admin())).stdout).items).toHaveLength(3);

    const run = await dlq(["requeue", ...filter, "--rate", "2"], admin());
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^Requeued 3 of 3 \(operation op-[0-9a-f-]{36}\)\.\n$/);
    expect(json((await dlq(["list", ...filter, "--json"], admin())).stdout).items).toHaveLength(0);
    const op = /operation (op-[0-9a-f-]{36})/.exec(run.stdout)![1]!;
    const shown = await dlq(["operations", "show", op, "--tenant", TENANT, "--json"], admin());
    expect(json(shown.stdout)).toMatchObject({ id: op, status: "done", total: 3, succeeded: 3, failed: 0, createdBy: "admin" });
  });

  it("fails a bulk requeue whose items cannot be sent, and says which and why", async () => {
    const r = await dlq(["requeue", "--tenant", TENANT, "--queue", "emails"], admin());
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("Requeued 0 of 2");
    expect(r.stdout).toMatch(/s1: no producer binding for queue emails/);
    expect(r.stderr).toMatch(/dlq: 2 of 2 could not be requeued\n {2}→ see why with: dlq operations show op-/);
  });

  it("requeues one job with a replacement body from a file, on the record", async () => {
    const file = join(scratch, "raw-1.json");
    await writeFile(file, JSON.stringify({ tenantId: TENANT, jobId: "raw-1", fail: "none", fixedBy: "hand" }));
    const r = await dlq(["requeue", "raw-1", "--tenant", TENANT, "--body-file", file], admin());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`Requeued raw-1 to jobs with the body from ${file}: now retrying.\n`);
    const shown = json((await dlq(["show", "raw-1", "--tenant", TENANT, "--json"], admin())).stdout);
    expect(shown.body).toMatchObject({ fixedBy: "hand" });
    // (the demo job then succeeds with it: a "recovered" entry may come first)
    expect(shown.history.find((h: any) => h.action === "requeue")).toMatchObject({
      actor: "admin",
      detail: { bodyReplaced: "yes", newBodySha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });

    const text = join(scratch, "not-json.txt");
    await writeFile(text, "just some text");
    const refused = await dlq(["requeue", "s1", "--tenant", TENANT, "--body-file", text], admin());
    expect([refused.code, refused.stderr]).toEqual([1, expect.stringContaining("(409 conflict)")]);
    const missing = await dlq(["requeue", "s1", "--tenant", TENANT, "--body-file", join(scratch, "nope.json")], admin());
    expect([missing.code, missing.stderr]).toEqual([1, expect.stringContaining("--body-file path")]);
  });
});

describe("dlq export", () => {
  it("streams every page as NDJSON", async () => {
    const r = await dlq(["export", "--tenant", TENANT, "--format", "ndjson", "--page-size", "3"], admin());
    expect(r.code).toBe(0);
    const rows = r.stdout.trimEnd().split("\n").map(json);
    expect(rows).toHaveLength(8);
    expect(rows.map((f) => f.jobId).sort()).toEqual(["raw-1", "s1", "s2", "u1", "u2", "u3", "u4", "u5"]);
    expect(r.stderr).toBe("Exported 8 failures.\n");
  });

  it("writes CSV, filtered, to a file", async () => {
    const file = join(scratch, "emails.csv");
    const r = await dlq(["export", "--tenant", TENANT, "--format", "csv", "--queue", "emails", "--output", file], admin());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("");
    const lines = (await readFile(file, "utf8")).trimEnd().split("\r\n");
    expect(lines[0]).toBe("jobId,tenantId,userId,queue,class,status,reason,attempts,occurrences,group,errorName,errorMessage,errorStatus,firstFailedAt,lastFailedAt,recoveryAttempts,poison,recoveryNote");
    expect(lines.slice(1).map((l) => l.split(",")[0]).sort()).toEqual(["s1", "s2"]);
    expect(lines[1]).toContain(",emails,SYSTEM_ERROR,");
    expect(lines[1]).toContain(",smtp relay answered 500,500,");
  });
});

describe("dlq tokens", () => {
  it("creates a tenant token shown once, lists it, and revokes it", async () => {
    const created = await dlq(["tokens", "create", "--tenant", TENANT, "--label", "ana"], admin());
    expect(created.code).toBe(0);
    const token = created.stdout.trim();
    expect(token).toMatch(/^dlq_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toContain("it is not shown again");

    const listed = await dlq(["tokens", "list", "--tenant", TENANT], admin());
    expect(listed.stdout).toMatch(/^tok_[0-9a-f]{16}\s+acme\s+ana\s+operate\s/m);
    expect(listed.stdout).not.toContain(token);
    const id = /^(tok_[0-9a-f]{16})/m.exec(listed.stdout)![1]!;

    // The token acts on its own tenant, without --tenant, and sees nothing of another.
    const mine = await dlq(["stats"], { DLQ_URL: worker.url, DLQ_TOKEN: token });
    expect(mine.stdout).toContain("Tenant acme: 8 failures");
    const theirs = await dlq(["show", "b1", "--tenant", "beta"], { DLQ_URL: worker.url, DLQ_TOKEN: token });
    expect(theirs.code).toBe(1);
    expect(theirs.stderr).toContain('no failure with jobId "b1" in this tenant (404 not_found)');
    const notAdmin = await dlq(["tokens", "list"], { DLQ_URL: worker.url, DLQ_TOKEN: token });
    expect(notAdmin.code).toBe(1);
    expect(notAdmin.stderr).toContain("this needs the admin token");

    const revoked = await dlq(["tokens", "revoke", id], admin());
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain(`Revoked ${id}`);
    const after = await dlq(["stats"], { DLQ_URL: worker.url, DLQ_TOKEN: token });
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/401 unauthorized\)\n {2}→ check the token \(DLQ_TOKEN or --token\)/);
  });
});

describe("dlq tokens --scope", () => {
  it("creates a read token that views but may not act", async () => {
    const created = await dlq(["tokens", "create", "--tenant", TENANT, "--label", "viewer", "--scope", "read"], admin());
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr).toContain("scope read");
    const token = created.stdout.trim();
    const listed = await dlq(["tokens", "list", "--tenant", TENANT, "--json"], admin());
    expect(json(listed.stdout).items).toContainEqual(expect.objectContaining({ label: "viewer", scope: "read" }));
    expect((await dlq(["tokens", "list", "--tenant", TENANT], admin())).stdout).toMatch(/\sviewer\s+read\s/);

    const reader = { DLQ_URL: worker.url, DLQ_TOKEN: token };
    expect((await dlq(["show", "u3"], reader)).code).toBe(0);
    const refused = await dlq(["abandon", "u3", "--reason", "not allowed"], reader);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/scope operate.*\(403 forbidden\)\n {2}→ this token may only read/s);
    expect(json((await dlq(["show", "u3", "--json"], reader)).stdout).status).not.toBe("abandoned");
  });
});

describe("usage errors exit 2 and say what to do", () => {
  it.each([
    [["frobnicate"], /no command "frobnicate"/],
    [["show"], /show takes one job id/],
    [["list", "--bogus"], /Unknown option '--bogus'/],
    [["list", "--limit", "0"], /--limit must be a whole number from 1 to 500/],
    [["list", "--class", "FATAL"], /class must be one of RECOVERABLE, USER_ERROR/],
    [["list", "--field", "userId"], /--field and --value go together/],
    [["export", "--format", "xml"], /export needs --format ndjson or --format csv/],
    [["abandon", "u3"], /abandon needs --reason/],
    [["requeue"], /say which failures: a job id, --filter key=value, or --all/],
    [["requeue", "--filter", "color=red"], /--filter takes key=value with key one of class, queue/],
    [["requeue", "--class", "UNKNOWN", "--body-file", "x.json"], /--body-file replaces one job's body/],
    [["tokens", "create", "--label", "x"], /tokens create needs --tenant and --label/],
    [["tokens", "create", "--tenant", "acme", "--label", "x", "--scope", "admin"], /--scope must be read or operate/],
    [["list"], /tenant: the admin token acts on any tenant/],
  ])("dlq %j", async (args, message) => {
    const r = await dlq(args, admin());
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(message);
  });

  it("without a URL or a token", async () => {
    const noUrl = await dlq(["stats"], { DLQ_TOKEN: ADMIN });
    expect([noUrl.code, noUrl.stderr]).toEqual([2, expect.stringContaining("no API address: set DLQ_URL")]);
    const noToken = await dlq(["stats"], { DLQ_URL: worker.url });
    expect([noToken.code, noToken.stderr]).toEqual([2, expect.stringContaining("no token: set DLQ_TOKEN or pass --token")]);
  });

  it("prints help with exit 0 when asked, 2 when given nothing", async () => {
    expect((await dlq(["help", "requeue"], {})).stdout).toContain("Usage: dlq requeue <jobId>");
    expect((await dlq(["list", "--help"], {})).code).toBe(0);
    const bare = await dlq([], {});
    expect([bare.code, bare.stderr]).toEqual([2, expect.stringContaining("Usage: dlq <command> [options]")]);
  });
});

describe("failures exit 1 and say what to do", () => {
  it("when the server fails", async () => {
    const r = await dlq(["stats", "--tenant", TENANT], { DLQ_URL: broken.url, DLQ_TOKEN: ADMIN });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Something went wrong on our side; it has been logged. (500 internal_error)");
    expect(r.stderr).toContain("→ the server logged the details");
    // ... and logged why, as the hint says (wrangler prints it shortly after answering).
    await vi.waitFor(() => expect(broken.log()).toContain("unhandled error in API Error: Invalid configuration: LEDGER_MAX_ROWS"), {
      timeout: 10_000,
      interval: 100,
    });
  });

  it("when nothing answers at the address", async () => {
    const r = await dlq(["stats"], { DLQ_URL: `http://127.0.0.1:${await freePort()}`, DLQ_TOKEN: ADMIN });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/could not reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
    expect(r.stderr).toContain("is the worker running");
  });

  it("when the job does not exist", async () => {
    const r = await dlq(["show", "nope", "--tenant", TENANT], admin());
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('dlq: no failure with jobId "nope" in this tenant (404 not_found)\n');
  });
});
