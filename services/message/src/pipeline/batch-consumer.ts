import type { Consumer, KafkaMessage, Producer } from "kafkajs";
import type { z } from "zod";
import { sendBatchUntil, type Logger } from "@chat/shared";
import type { Counter } from "prom-client";

export interface BatchConsumerOptions<S extends z.ZodTypeAny> {
  /** Receives records that can never be processed, with the reason in a header. */
  dlqProducer: Producer;
  topic: string;
  dlqTopic: string;
  schema: S;
  logger: Logger;
  /** Records handled per call, at most. @default 500 */
  chunkSize?: number;
  /** Partitions processed in parallel. @default 3 */
  partitionsConsumedConcurrently?: number;
  processed?: Counter<"topic" | "outcome">;
  /**
   * Processes valid records (in partition order) and returns the invalid ones with a reason.
   * `origins[i]` is where records[i] sits in Kafka (`topic:partition:offset`): a replay after a
   * crash shows up with the same origin, a client's resend with another.
   */
  handle(records: Array<z.infer<S>>, origins: string[]): Promise<Array<{ record: z.infer<S>; reason: string }>>;
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
 * to the topic's dead-letter topic instead of blocking the partition. A failing `handle`
 * (the database or Kafka away) throws out of the batch: nothing is committed, and kafkajs
 * retries it, or the consumer supervisor rebuilds the consumer, which reads it again.
 */
export async function runBatchConsumer<S extends z.ZodTypeAny>(consumer: Consumer, opts: BatchConsumerOptions<S>): Promise<void> {
  const { dlqProducer, topic, dlqTopic, schema, logger, chunkSize = 500, partitionsConsumedConcurrently = 3 } = opts;

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

  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
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
        const valid = parsed.filter((p) => p.value !== undefined);
        const refused = await opts.handle(
          valid.map((p) => p.value),
          valid.map((p) => `${batch.topic}:${batch.partition}:${p.message.offset}`),
        );
        const byRecord = new Map(valid.map((p) => [p.value, p.message]));
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
        await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() }]);
        await heartbeat();
      }
    },
  });
}
