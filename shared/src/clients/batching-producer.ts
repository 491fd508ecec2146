import type { Message, Producer } from "kafkajs";
import { UnavailableError } from "../errors.ts";
import type { ReadinessCheck } from "./dependency.ts";
import { sendBatchUntil } from "./send-batch.ts";

export interface BatchingProducerOptions {
  /** How long the first record of a batch may wait for company. @default 2 */
  lingerMs?: number;
  /** Flush at once when this many records are waiting. @default 500 */
  maxBatch?: number;
  /**
   * Longest a caller waits for Kafka's acknowledgement (a leader election, a lost broker)
   * before its send is rejected with UnavailableError; the record may still be written
   * later, which is why every send must be idempotent. @default 10000
   */
  timeoutMs?: number;
}

export interface BatchingProducer extends ReadinessCheck {
  /** Resolves once Kafka has the record durably (acks from all in-sync replicas). */
  send(topic: string, message: Message): Promise<void>;
  /** Sends whatever is waiting and waits for it. */
  flush(): Promise<void>;
}

/** How long a failed batch keeps the producer "not ready" unless a later batch succeeds. */
const FAILURE_MEMORY_MS = 15_000;

interface Pending {
  topic: string;
  message: Message;
  settled: boolean;
  /** When the caller stops waiting (epoch ms). */
  deadline: number;
  timer?: NodeJS.Timeout;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * kafkajs has no linger: one awaited send per record tops out near 2k/s. This collects
 * records for a few milliseconds and sends them in one `sendBatch`, keeping each caller's
 * own promise, so hot paths batch without changing their code. One batch is in flight at
 * a time: records keep the order they were handed in (kafkajs does not promise order
 * across concurrent sends), and load makes the next batch bigger instead of adding requests.
 * No caller waits longer than `timeoutMs`: a send either succeeds in that time or fails
 * with UnavailableError, never hangs.
 */
export function createBatchingProducer(producer: Producer, { lingerMs = 2, maxBatch = 500, timeoutMs = 10_000 }: BatchingProducerOptions = {}): BatchingProducer {
  const waiting: Pending[] = [];
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;
  /** The newest batch's failure, until a batch succeeds: recent ones mean Kafka is out of reach. */
  let lastFailure: { at: number; message: string } | undefined;

  const settle = (p: Pending, err?: unknown) => {
    if (p.settled) return;
    p.settled = true;
    clearTimeout(p.timer);
    if (err === undefined) p.resolve();
    else p.reject(err instanceof UnavailableError ? err : new UnavailableError("Kafka did not accept the message", err));
  };

  function flushNow(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (inFlight) return inFlight;
    const batch = waiting.splice(0, maxBatch);
    if (batch.length === 0) return Promise.resolve();
    const byTopic = new Map<string, Message[]>();
    for (const p of batch) {
      const list = byTopic.get(p.topic) ?? [];
      list.push(p.message);
      byTopic.set(p.topic, list);
    }
    // The batch is retried whole until its oldest caller's time is up.
    const sending = sendBatchUntil(producer, { acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) }, batch[0]!.deadline)
      .then(
        () => {
          lastFailure = undefined;
          batch.forEach((p) => settle(p));
        },
        (err: unknown) => {
          lastFailure = { at: Date.now(), message: (err as Error)?.message ?? String(err) };
          batch.forEach((p) => settle(p, err));
        },
      )
      .finally(() => {
        inFlight = undefined;
        // What arrived meanwhile goes out at once: it has waited long enough.
        if (waiting.length > 0) void flushNow();
      });
    inFlight = sending;
    return sending;
  }

  return {
    name: "producer",
    send(topic, message) {
      return new Promise<void>((resolve, reject) => {
        const pending: Pending = { topic, message, settled: false, deadline: Date.now() + timeoutMs, resolve, reject };
        pending.timer = setTimeout(() => settle(pending, new UnavailableError(`Kafka did not acknowledge within ${timeoutMs} ms`)), timeoutMs);
        waiting.push(pending);
        if (inFlight) return;
        if (waiting.length >= maxBatch) void flushNow();
        else timer ??= setTimeout(() => void flushNow(), lingerMs);
      });
    },
    async flush() {
      while (inFlight || waiting.length > 0) await flushNow().catch(() => undefined);
    },
    async check() {
      // A quiet producer sends nothing that could clear an old failure: after a while, the
      // Kafka dependency check (which runs beside this one) speaks for reachability alone.
      if (lastFailure && Date.now() - lastFailure.at < FAILURE_MEMORY_MS) throw new Error(`last send failed ${Math.round((Date.now() - lastFailure.at) / 1000)}s ago: ${lastFailure.message}`);
    },
  };
}
