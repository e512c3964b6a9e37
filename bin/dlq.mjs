#!/usr/bin/env node
// `dlq`: the dead-letter ledger from a terminal. Plain JavaScript (typed with JSDoc, checked by
// tsc): nothing to build, no dependencies beyond Node 20.
import { main } from "../src/cli/main.mjs";

// `dlq export … | head` closes the pipe early: that is not an error.
process.stdout.on("error", (error) => {
  if (/** @type {NodeJS.ErrnoException} */ (error).code === "EPIPE") process.exit(0);
  throw error;
});

process.exitCode = await main(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr });
