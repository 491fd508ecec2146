import type { ConfirmChannel } from "amqplib";
import type { AutoMessageStore } from "./automessage-store.ts";
import { publishJobs } from "./queue-publisher.ts";

export interface QueueResult {
  queued: number;
  republished: number;
  ms: number;
}

/**
 * A due minute is read again on each run until it is this old, so a bucket a planner was
 * still writing (its `now` taken before its writes) is never passed over.
 */
export const SETTLE_MS = 2 * 60_000;

/**
 * Walks the due-minute buckets from the persisted cursor up to now (catching up after
 * downtime), claims the due messages (single-winner, by key) and publishes them, batch by
 * batch. A crash between a claim and its publish leaves messages queued-but-unsent: the
 * queued-minute buckets are re-checked after `requeueAfterMs` and those are published again
 * (the worker and the message service de-duplicate).
 */
export async function queueDueAutoMessages(
  store: AutoMessageStore,
  channel: ConfirmChannel,
  opts: { queue: string; batchSize: number; requeueAfterMs: number; now?: Date },
): Promise<QueueResult> {
  const started = Date.now();
  const now = opts.now ?? new Date();
  const publish = (docs: Parameters<typeof publishJobs>[2]) => publishJobs(channel, opts.queue, docs);
  const queued = await store.queueDue(now, opts.batchSize, SETTLE_MS, publish);
  const republished = await store.requeueStale(now, opts.requeueAfterMs, opts.batchSize, publish);
  return { queued, republished, ms: Date.now() - started };
}
