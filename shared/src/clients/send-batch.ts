import type { Producer, ProducerBatch } from "kafkajs";
import { backoffDelay, sleep } from "./retry.ts";

/** The innermost cause of a kafkajs error (retry wrappers nest the original). */
function rootCause(err: unknown): unknown {
  let e = err as { cause?: unknown } | undefined;
  while (e && typeof e === "object" && e.cause) e = e.cause as { cause?: unknown };
  return e;
}

/** An error Kafka will answer the same way however often we ask (a record too large, a bad topic). */
function isPermanent(err: unknown): boolean {
  const cause = rootCause(err) as { name?: string; retriable?: boolean } | undefined;
  return cause?.name === "KafkaJSProtocolError" && cause.retriable === false;
}

/**
 * Sends a whole batch, and on any passing failure sends the whole batch again until
 * `deadline` (epoch ms). Producers are built with kafkajs's own retries off: kafkajs
 * remembers which *brokers* answered a batch, so when a broker dies and its partitions move
 * to a broker that already answered, its retry skips them and still resolves (kafkajs#1303;
 * measured here: acknowledged messages never stored). Re-sending everything may write a
 * record twice; every consumer is idempotent on the record's ids.
 */
export async function sendBatchUntil(producer: Producer, batch: ProducerBatch, deadline: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await producer.sendBatch(batch);
      return;
    } catch (err) {
      const delayMs = backoffDelay(attempt, 100, 1000);
      if (isPermanent(err) || Date.now() + delayMs >= deadline) throw err;
      await sleep(delayMs);
    }
  }
}
