import type { StoredEvent } from "@chat/shared/contracts";
import type { Counter } from "prom-client";
import type { SearchIndexNames } from "./search-index.ts";
import { sonicText } from "./sonic.ts";
import type { SonicIngest } from "./sonic-ingest.ts";

/** Index operations on one object, in the order its events came. */
type Op = { kind: "push"; buckets: string[]; text: string } | { kind: "flush"; buckets: string[] };

export interface IndexerDeps {
  /** Ingest channels, used side by side; each pipelines its commands and answers them in order. */
  channels: SonicIngest[];
  names: SearchIndexNames;
  indexed?: Counter<"op">;
}

/**
 * `message.stored` -> Sonic. A message is pushed into its participants' and its conversation's
 * buckets; an edit flushes the object there and pushes its new content; a delete flushes it.
 * Each record is applied in Kafka order per object (an object's commands all go, in that
 * order, down one channel, which Sonic runs in order), and every operation can run twice (a
 * replay after a crash pushes the same words again), so the consumer commits only after a
 * batch is indexed and simply reads it again after a failure.
 */
export function createIndexer({ channels, names, indexed }: IndexerDeps) {
  /** Issues an object's commands, in order, on one channel; counts them by kind into `done`. */
  function runOps(channel: SonicIngest, object: string, ops: Op[], sent: Array<Promise<string>>, done: Record<Op["kind"], number>): void {
    for (const op of ops) {
      if (op.kind === "push" && op.text.trim().length === 0) continue;
      for (const b of op.buckets) sent.push(op.kind === "flush" ? channel.flusho(names.collection, b, object) : channel.push(names.collection, b, object, op.text));
      done[op.kind] += op.buckets.length;
    }
  }

  return async function index(events: StoredEvent[]): Promise<[]> {
    const byObject = new Map<string, Op[]>();
    for (const e of events) {
      const object = names.objectOf(e.message);
      const buckets = names.bucketsOf(e.participantIds, e.message.conversationId);
      const ops = byObject.get(object) ?? [];
      if (e.type === "message") {
        if (!e.message.deletedAt) ops.push({ kind: "push", buckets, text: sonicText(e.message.content) });
      } else {
        ops.push({ kind: "flush", buckets });
        if (e.change.type === "edited") ops.push({ kind: "push", buckets, text: sonicText(e.change.content) });
      }
      byObject.set(object, ops);
    }
    let i = 0;
    const sent: Array<Promise<string>> = [];
    const done = { push: 0, flush: 0 };
    for (const [object, ops] of byObject) runOps(channels[i++ % channels.length]!, object, ops, sent, done);
    await Promise.all(sent);
    indexed?.inc({ op: "push" }, done.push);
    indexed?.inc({ op: "flush" }, done.flush);
    return [];
  };
}
