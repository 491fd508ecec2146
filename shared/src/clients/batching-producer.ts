import type { Message, Producer } from "kafkajs";

export interface BatchingProducerOptions {
  /** How long the first record of a batch may wait for company. @default 2 */
  lingerMs?: number;
  /** Flush at once when this many records are waiting. @default 500 */
  maxBatch?: number;
}

export interface BatchingProducer {
  /** Resolves once Kafka has the record durably (acks from all in-sync replicas). */
  send(topic: string, message: Message): Promise<void>;
  /** Sends whatever is waiting and waits for it. */
  flush(): Promise<void>;
}

interface Pending {
  topic: string;
  message: Message;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * kafkajs has no linger: one awaited send per record tops out near 2k/s. This collects
 * records for a few milliseconds and sends them in one `sendBatch`, keeping each caller's
 * own promise, so hot paths batch without changing their code. One batch is in flight at
 * a time: records keep the order they were handed in (kafkajs does not promise order
 * across concurrent sends), and load makes the next batch bigger instead of adding requests.
 */
export function createBatchingProducer(producer: Producer, { lingerMs = 2, maxBatch = 500 }: BatchingProducerOptions = {}): BatchingProducer {
  const waiting: Pending[] = [];
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;

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
    const sending = producer
      .sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) })
      .then(
        () => batch.forEach((p) => p.resolve()),
        (err: unknown) => batch.forEach((p) => p.reject(err)),
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
    send(topic, message) {
      return new Promise<void>((resolve, reject) => {
        waiting.push({ topic, message, resolve, reject });
        if (inFlight) return;
        if (waiting.length >= maxBatch) void flushNow();
        else timer ??= setTimeout(() => void flushNow(), lingerMs);
      });
    },
    async flush() {
      while (inFlight || waiting.length > 0) await flushNow().catch(() => undefined);
    },
  };
}
