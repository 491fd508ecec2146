import type { StoredEvent } from "@chat/shared/contracts";
import type { Counter } from "prom-client";
import type { SearchIndexNames } from "./search-index.ts";
import { sonicText, type SonicChannelHandle } from "./sonic.ts";

const BUCKETS_AT_ONCE = 8;

/** Index operations on one object, in the order its events came. */
type Op = { kind: "push"; buckets: string[]; text: string } | { kind: "flush"; buckets: string[] };

export interface IndexerDeps {
  /** Ingest channels, used side by side (each sends one command at a time). */
  channels: Array<SonicChannelHandle<"ingest">>;
  names: SearchIndexNames;
  /** Commands in flight per channel. @default 32 */
  perChannel?: number;
  indexed?: Counter<"op">;
}

/**
 * `message.stored` -> Sonic. A message is pushed into its participants' and its conversation's
 * buckets; an edit flushes the object there and pushes its new content; a delete flushes it.
 * Each record is applied in Kafka order per object, and every operation can run twice (a
 * replay after a crash pushes the same words again), so the consumer commits only after a
 * batch is indexed and simply reads it again after a failure.
 */
export function createIndexer({ channels, names, perChannel = 32, indexed }: IndexerDeps) {
  /**
   * One object's operations, in order. A group's message goes to up to 101 buckets: they are
   * done 8 at a time, so a channel never has more than `perChannel * 8` commands queued
   * (sonic-channel drops its connection past 1,000).
   */
  async function runOps(channel: SonicChannelHandle<"ingest">, object: string, ops: Op[]): Promise<void> {
    for (const op of ops) {
      if (op.kind === "push" && op.text.trim().length === 0) continue;
      for (let i = 0; i < op.buckets.length; i += BUCKETS_AT_ONCE) {
        await Promise.all(
          op.buckets.slice(i, i + BUCKETS_AT_ONCE).map((b) =>
            op.kind === "flush"
              ? channel.run("flusho", (c) => c.flusho(names.collection, b, object))
              : channel.run("push", (c) => c.push(names.collection, b, object, op.text, { lang: "none" })),
          ),
        );
      }
      indexed?.inc({ op: op.kind }, op.buckets.length);
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
    const work = [...byObject];
    let next = 0;
    const workers = Array.from({ length: channels.length * perChannel }, async (_, i) => {
      const channel = channels[i % channels.length]!;
      while (next < work.length) {
        const [object, ops] = work[next++]!;
        await runOps(channel, object, ops);
      }
    });
    await Promise.all(workers);
    return [];
  };
}
