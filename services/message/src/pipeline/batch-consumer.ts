import type { Consumer, EachBatchPayload, KafkaMessage, Producer, TopicPartitionOffsetAndMetadata } from "kafkajs";
import type { z } from "zod";
import { sendBatchUntil, sleep, withTimeout, type HandlingReport, type Logger } from "@chat/shared";
import type { Counter, Histogram } from "prom-client";
import { createTurnBatcher } from "./turn-batcher.ts";

export interface BatchConsumerOptions<S extends z.ZodTypeAny> {
  /** Receives records that can never be processed, with the reason in a header. */
  dlqProducer: Producer;
  topic: string;
  dlqTopic: string;
  schema: S;
  logger: Logger;
  /** Records handled per call, at most. @default 500 */
  chunkSize?: number;
  /**
   * Partitions processed at once: at least as many as one replica is assigned, so that every
   * partition of a fetch is handled in the same turn and their chunks go through one `handle`.
   * @default 16
   */
  partitionsConsumedConcurrently?: number;
  processed?: Counter<"topic" | "outcome">;
  /** Records per `handle` call: how well its round trips are shared. */
  chunkRecords?: Histogram<"topic">;
  /**
   * Processes valid records (in partition order) and returns the invalid ones with a reason.
   * `origins[i]` is where records[i] sits in Kafka (`topic:partition:offset`): a replay after a
   * crash shows up with the same origin, a client's resend with another.
   */
  handle(records: Array<z.infer<S>>, origins: string[]): Promise<Array<{ record: z.infer<S>; reason: string }>>;
  /** First pause before a failed chunk is handled again; doubles up to `retryMaxDelayMs`. @default 250 */
  retryMinDelayMs?: number;
  /** @default 2000 */
  retryMaxDelayMs?: number;
  /**
   * A try of `handle` that has not settled by then counts as failed, and the chunk is tried
   * again (every step of `handle` is idempotent): a driver call that never settles must not hold
   * the partitions for good. Longer than a produce may re-send for (30 s, `sendBatchUntil`), so
   * a broker loss still ends a try by itself. @default 45000
   */
  handleTimeoutMs?: number;
  /** Told how each partition's chunks fare (the supervisor's, so `/readyz` shows a stall). */
  handling?: HandlingReport;
  /**
   * A pause after a fetch's records are handled and committed, before the next fetch: the next
   * one then brings what came meanwhile, and one `handle` serves more records (KAFKA_FETCH_LINGER_MS).
   * @default 0
   */
  lingerMs?: number;
}

interface Parsed<T> {
  message: KafkaMessage;
  value?: T;
  reason?: string;
}

/**
 * A consumer-group loop shared by the message service's topics: parse with the topic's
 * schema, handle in chunks, and commit a chunk's offsets only after `handle` resolved (so
 * persistence and follow-up events are durable first). Unparseable or refused records go
 * to the topic's dead-letter topic instead of blocking the partition. A chunk whose `handle`
 * fails commits nothing and is handled again (see the last paragraph).
 *
 * The chunks of the partitions that one fetch brought are handled together: one `handle`
 * call (one read of their conversations, one insert, one produce) and one commit for all of
 * them, where each partition's chunk used to pay for its own. Merging partitions keeps every
 * guarantee: a key (a conversation) lives in one partition, and a partition's next chunk
 * waits until its previous one is committed.
 *
 * A failing `handle` means a dependency is away (the store, Kafka, Redis): the chunk is handled
 * again after a pause, heartbeating meanwhile, until it succeeds or the partition is no longer
 * ours; a try that has not settled in `handleTimeoutMs` counts as failed. kafkajs heartbeats
 * only when told to: a consumer that threw out of `eachBatch` sat out kafkajs's growing backoff
 * without a heartbeat, was dropped from its group after the session timeout, and the group
 * rebalanced just as the store came back (17–26 s without a delivery after a 6 s store
 * restart; docs/reliability.md).
 */
export async function runBatchConsumer<S extends z.ZodTypeAny>(consumer: Consumer, opts: BatchConsumerOptions<S>): Promise<void> {
  const { dlqProducer, topic, dlqTopic, schema, logger, chunkSize = 500, partitionsConsumedConcurrently = 16, retryMinDelayMs = 250, retryMaxDelayMs = 2000, handleTimeoutMs = 45_000, lingerMs = 0 } = opts;
  type Refused = Array<{ record: z.infer<S>; reason: string }>;

  /** One `handle` for the chunks of a turn; each chunk gets back its own refused records. */
  const handleTogether = createTurnBatcher(async (chunks: Array<{ records: Array<z.infer<S>>; origins: string[] }>): Promise<Refused[]> => {
    const records = chunks.flatMap((c) => c.records);
    if (records.length === 0) return chunks.map(() => []);
    opts.chunkRecords?.observe({ topic }, records.length);
    let refused: Refused;
    try {
      refused = await withTimeout(opts.handle(records, chunks.flatMap((c) => c.origins)), handleTimeoutMs, `handling ${records.length} records`);
    } catch (err) {
      opts.processed?.inc({ topic, outcome: "failed" }, records.length);
      logger.warn({ topic, records: records.length, err }, "records not handled; trying again");
      throw err;
    }
    if (chunks.length === 1) return [refused];
    const chunkOf = new Map<z.infer<S>, number>();
    chunks.forEach((c, i) => c.records.forEach((r) => chunkOf.set(r, i)));
    const byChunk: Refused[] = chunks.map(() => []);
    for (const r of refused) byChunk[chunkOf.get(r.record)!]!.push(r);
    return byChunk;
  });

  /** One offset commit for the partitions whose chunks were handled in the same turn. */
  const commitTogether = createTurnBatcher(async (offsets: TopicPartitionOffsetAndMetadata[]) => {
    await consumer.commitOffsets(offsets);
    return offsets.map(() => undefined);
  });

  async function deadLetter(entries: Array<{ message: KafkaMessage; reason: string }>, partition: number) {
    if (entries.length === 0) return;
    const messages = entries.map(({ message, reason }) => ({
      key: message.key,
      value: message.value,
      headers: { reason, "source-topic": topic, "source-partition": String(partition), "source-offset": message.offset },
    }));
    await sendBatchUntil(dlqProducer, { acks: -1, topicMessages: [{ topic: dlqTopic, messages }] }, Date.now() + 30_000);
    opts.processed?.inc({ topic, outcome: "dead-lettered" }, entries.length);
    logger.warn({ topic, partition, count: entries.length, reasons: [...new Set(entries.map((e) => e.reason))] }, "records dead-lettered");
  }

  /** A fetched partition's records, chunk by chunk: each handled (until it succeeds), then committed. */
  async function consumeBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    for (let i = 0; i < batch.messages.length; i += chunkSize) {
      if (!isRunning() || isStale()) return;
      const chunk = batch.messages.slice(i, i + chunkSize);
      const parsed: Array<Parsed<z.infer<S>>> = chunk.map((message) => {
        try {
          const result = schema.safeParse(JSON.parse(String(message.value)));
          return result.success ? { message, value: result.data } : { message, reason: "SCHEMA_INVALID" };
        } catch {
          return { message, reason: "MALFORMED_JSON" };
        }
      });
      const valid = parsed.flatMap((p) => (p.value === undefined ? [] : [{ message: p.message, value: p.value }]));
      const partition = `${batch.topic}:${batch.partition}`;
      const input = { records: valid.map((p) => p.value), origins: valid.map((p) => `${partition}:${p.message.offset}`) };
      opts.handling?.started(partition);
      let refused: Refused;
      for (let attempt = 1; ; attempt++) {
        try {
          refused = await handleTogether(input);
          opts.handling?.handled(partition);
          break;
        } catch (err) {
          opts.handling?.failed(partition, err);
          if (!isRunning() || isStale()) throw err;
          // Throws if the group is rebalancing: the partition may not stay ours.
          await heartbeat();
          // The same pause for every partition of the turn, so that their retries meet
          // in one `handle` again.
          await sleep(Math.min(retryMaxDelayMs, retryMinDelayMs * 2 ** (attempt - 1)));
          if (!isRunning() || isStale()) throw err;
          await heartbeat();
        }
      }
      const byRecord = new Map<z.infer<S>, KafkaMessage>(valid.map((p) => [p.value, p.message]));
      await deadLetter(
        [
          ...parsed.filter((p) => p.reason).map((p) => ({ message: p.message, reason: p.reason! })),
          ...refused.map((r) => ({ message: byRecord.get(r.record)!, reason: r.reason })),
        ],
        batch.partition,
      );
      opts.processed?.inc({ topic, outcome: "ok" }, valid.length - refused.length);
      const last = chunk[chunk.length - 1]!;
      resolveOffset(last.offset);
      await commitTogether({ topic: batch.topic, partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() });
      await heartbeat();
    }
  }

  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently,
    eachBatch: async (payload) => {
      // kafkajs heartbeats only when told to, and a chunk may take long: a try waits up to 5 s
      // for a store that is away, a produce up to 30 s for a new partition leader. So this
      // heartbeats meanwhile (kafkajs sends one at most every heartbeatInterval); a rebalance
      // it reports is seen by consumeBatch's own heartbeats.
      const keepAlive = setInterval(() => void payload.heartbeat().catch(() => undefined), 1000);
      try {
        await consumeBatch(payload);
        // kafkajs fetches again only once every batch of the last fetch is through here.
        if (lingerMs > 0 && payload.batch.messages.length > 0 && payload.isRunning() && !payload.isStale()) await sleep(lingerMs);
      } finally {
        clearInterval(keepAlive);
      }
    },
  });
}
