// jobs-worker: a user's worker wired to dlq-ledger. POST /jobs enqueues demo jobs on `jobs`; the
// consumer runs them through withFailureCapture, so a job that fails for good reaches dlq-ledger's
// dead-letter queue with its error, and a job the ledger retried is reported when it succeeds.

import { withFailureCapture } from "@dlq-ledger/capture";
import type { Env } from "./env";
import { EnqueueRequest, Job, jobsOf } from "./job";
import { runJob } from "./run";

/** Must equal max_retries of the `jobs` consumer in wrangler.toml. */
const MAX_RETRIES = 3;

/** Seconds before the first retry; doubles each attempt. Short, so the local loop is quick to watch. */
const BACKOFF_BASE_SECONDS = 1;

const capture = withFailureCapture<Job, Env>((message, env) => runJob(message.body, env), {
  deadLetterQueue: (env) => env.DLQ,
  maxRetries: MAX_RETRIES,
  backoff: { baseSeconds: BACKOFF_BASE_SECONDS },
  reportSuccess: (env) => env.DLQ_LEDGER,
});

async function consume(batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext): Promise<void> {
  const jobs: Message<Job>[] = [];
  for (const message of batch.messages) {
    const job = Job.safeParse(message.body);
    // A crash (or a body that is not a Job) fails past the helper, the way a real crash would:
    // the platform retries it and finally dead-letters the raw body, without error context.
    if (!job.success || job.data.fail === "crash") message.retry({ delaySeconds: BACKOFF_BASE_SECONDS });
    else jobs.push(message as Message<Job>);
  }
  await capture({ queue: batch.queue, messages: jobs }, env, ctx);
}

const error = (status: number, code: string, message: string, details?: unknown, headers?: HeadersInit) =>
  Response.json({ error: { code, message, ...(details === undefined ? {} : { details }) } }, { status, headers });

async function enqueue(request: Request, env: Env): Promise<Response> {
  let json: unknown;
  try {
    json = await request.json();
  } catch {
    return error(400, "invalid_json", "the body is not JSON");
  }
  const input = EnqueueRequest.safeParse(json);
  if (!input.success) {
    const details = input.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
    return error(400, "invalid_request", details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join("; "), details);
  }
  const jobs = jobsOf(input.data);
  let sent = 0;
  try {
    for (; sent < jobs.length; sent += 100) await env.JOBS.sendBatch(jobs.slice(sent, sent + 100).map((body) => ({ body })));
  } catch (cause) {
    // Over the queue's rate or backlog (or the local broker's limit of delayed messages).
    console.warn("jobs-worker: the queue refused a send", cause);
    const message = `the queue \`jobs\` refused the send after ${sent} of ${jobs.length} jobs; send the rest again shortly`;
    return error(503, "send_failed", message, { enqueued: jobs.slice(0, sent).map((j) => j.jobId) }, { "retry-after": "1" });
  }
  return Response.json({ enqueued: jobs.length, queue: "jobs", jobIds: jobs.map((j) => j.jobId) }, { status: 202 });
}

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (pathname !== "/jobs") return error(404, "not_found", "jobs-worker serves POST /jobs");
    if (request.method !== "POST") return error(405, "method_not_allowed", "use POST /jobs", undefined, { allow: "POST" });
    return enqueue(request, env);
  },
  queue: consume,
} satisfies ExportedHandler<Env>;
