// Bound by `npm start` only (scripts/dev-stack.mjs adds it to the local config), never deployed:
// the example worker, whose producer route POST /dev/jobs forwards to.
declare namespace Cloudflare {
  interface Env {
    JOBS_WORKER?: Fetcher;
  }
}
