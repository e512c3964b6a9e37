// The model-based test of the ledger (DESIGN.md, convention 11): random sequences of commands run
// against a plain model of what the ledger promises (model.ts) and against a real ledger in
// workerd, every read compared after each command (compare.ts). On a failure fast-check prints the
// seed, the path and the shortest sequence it found, one command a line; replay it with
// `npm run model -- --seed S --path P`. `npm test` runs a short fixed run; `npm run model` a long one.

import fc from "fast-check";
import { inject, it } from "vitest";
import { ledger, uniqueTenant } from "../support/failures";
import { T0, commandArbs, tally, tuning, type Real } from "./commands";
import { LedgerModel } from "./model";

const options = inject("model");

it(`matches its model over ${options.runs} random command sequences (seed ${options.seed})`, { timeout: options.timeoutMs }, async () => {
  const started = Date.now();
  const before = { ...tally, byKind: { ...tally.byKind } };
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(fc.commands(commandArbs, { maxCommands: options.maxCommands, size: "max", replayPath: options.replayPath }), async (commands) => {
      runs++;
      const setup = async () => {
        const tenant = uniqueTenant("model");
        const stub = ledger(tenant);
        await stub.tune(tuning(T0));
        return { model: new LedgerModel(T0), real: { tenant, stub, step: 0 } satisfies Real };
      };
      await fc.asyncModelRun(setup, commands);
    }),
    { numRuns: options.runs, seed: options.seed, path: options.path, endOnFailure: options.path !== undefined },
  );
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(
    `model run: seed ${options.seed}, ${runs} sequences, ${tally.commands - before.commands} commands, ${seconds} s; ` +
      `${tally.evicted - before.evicted} failures evicted (${tally.evictedInline - before.evictedInline} by a record's pass over the row bound, ` +
      `${tally.blockedInline - before.blockedInline} such passes blocked on unflushed failures; ${tally.trimSteps - before.trimSteps} trim-inline steps); ` +
      `commands by kind ${JSON.stringify(tally.byKind)}`,
  );
});
