// placeholder until the demo consumer lands
export async function consumeDemoJobs(batch: MessageBatch<unknown>, _env: Env, _ctx: ExecutionContext): Promise<void> {
  for (const m of batch.messages) m.retry();
}
