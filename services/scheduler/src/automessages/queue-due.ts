import type { ConfirmChannel } from "amqplib";
import type { AutoMessageStore } from "./automessage-store.ts";
import { publishJobs } from "./queue-publisher.ts";

export interface QueueResult {
  queued: number;
  republished: number;
  ms: number;
}

/**
 * Claims due AutoMessages batch by batch and publishes them. A crash between a claim and
 * its publish leaves messages queued-but-unsent: after `requeueAfterMs` they are
 * published again (the worker and the message service de-duplicate).
 */
export async function queueDueAutoMessages(
  store: AutoMessageStore,
  channel: ConfirmChannel,
  opts: { queue: string; batchSize: number; requeueAfterMs: number; now?: Date },
): Promise<QueueResult> {
  const started = Date.now();
  const now = opts.now ?? new Date();
  let queued = 0;
  for (;;) {
    const batch = await store.claimDue(now, opts.batchSize);
    await publishJobs(channel, opts.queue, batch);
    queued += batch.length;
    if (batch.length < opts.batchSize) break;
  }
  const stale = await store.claimStale(new Date(now.getTime() - opts.requeueAfterMs), now, opts.batchSize);
  await publishJobs(channel, opts.queue, stale);
  return { queued, republished: stale.length, ms: Date.now() - started };
}
