import type { Consumer, EachBatchPayload, KafkaMessage, Producer, ProducerBatch } from "kafkajs";
import { Counter } from "prom-client";
import { describe, expect, it } from "vitest";
import { createLogger } from "@chat/shared";
import { z } from "@chat/shared/contracts";
import { runBatchConsumer } from "./batch-consumer.ts";

const logger = createLogger({ name: "test", level: "silent" });
const schema = z.object({ n: z.number() });

/** A kafkajs consumer that hands `eachBatch` to the test, and records what is committed. */
function fakeConsumer() {
  const commits: string[] = [];
  /** The partitions of each commit request. */
  const commitCalls: number[][] = [];
  let eachBatch: ((payload: EachBatchPayload) => Promise<void>) | undefined;
  const consumer = {
    subscribe: async () => undefined,
    run: async (config: { eachBatch: (payload: EachBatchPayload) => Promise<void> }) => {
      eachBatch = config.eachBatch;
    },
    commitOffsets: async (offsets: Array<{ partition: number; offset: string }>) => {
      commitCalls.push(offsets.map((o) => o.partition));
      commits.push(...offsets.map((o) => `${o.partition}:${o.offset}`));
    },
  } as unknown as Consumer;
  const state = { heartbeats: 0, running: true };
  const deliver = (values: string[], partition = 0) => {
    const messages = values.map((value, i) => ({ offset: String(100 + i), value: Buffer.from(value), key: Buffer.from("k"), headers: {} }) as unknown as KafkaMessage);
    return eachBatch!({
      batch: { topic: "t", partition, messages },
      resolveOffset: () => undefined,
      heartbeat: async () => void state.heartbeats++,
      isRunning: () => state.running,
      isStale: () => false,
    } as unknown as EachBatchPayload);
  };
  return { consumer, commits, commitCalls, deliver, state };
}

function fakeProducer() {
  const sent: ProducerBatch[] = [];
  return { producer: { sendBatch: async (b: ProducerBatch) => void sent.push(b) } as unknown as Producer, sent };
}

/** What every test's consumer shares: its topic, dead-letter topic, schema and logger. */
const options = (dlqProducer: Producer) => ({ dlqProducer, topic: "t", dlqTopic: "t.dlq", schema, logger });

describe("runBatchConsumer", () => {
  it("commits a chunk's offsets only once its handling resolved", async () => {
    const { consumer, commits, deliver } = fakeConsumer();
    let release!: () => void;
    const handled: Array<{ records: unknown[]; origins: string[] }> = [];
    await runBatchConsumer(consumer, {
      ...options(fakeProducer().producer),
      handle: async (records, origins) => {
        handled.push({ records, origins });
        await new Promise<void>((r) => (release = r));
        return [];
      },
    });
    const running = deliver(['{"n":1}', '{"n":2}']);
    await new Promise((r) => setTimeout(r, 20));
    expect(handled).toEqual([{ records: [{ n: 1 }, { n: 2 }], origins: ["t:0:100", "t:0:101"] }]);
    expect(commits).toEqual([]);
    release();
    await running;
    expect(commits).toEqual(["0:102"]);
  });

  it("handles a failed chunk again, heartbeating meanwhile, and commits it only once handled", async () => {
    const { consumer, commits, deliver, state } = fakeConsumer();
    const processed = new Counter({ name: "processed", help: "records", labelNames: ["topic", "outcome"] as const, registers: [] });
    const reported: string[] = [];
    let calls = 0;
    await runBatchConsumer(consumer, {
      ...options(fakeProducer().producer),
      processed,
      retryMinDelayMs: 1,
      handling: {
        started: (partition) => reported.push(`started ${partition}`),
        failed: (partition, err) => reported.push(`failed ${partition}: ${(err as Error).message}`),
        handled: (partition) => reported.push(`handled ${partition}`),
      },
      handle: async () => {
        calls++;
        if (calls < 3) {
          expect(commits).toEqual([]);
          throw new Error("store down");
        }
        return [];
      },
    });
    await deliver(['{"n":1}']);
    expect(calls).toBe(3);
    expect(state.heartbeats).toBeGreaterThanOrEqual(2);
    expect(commits).toEqual(["0:101"]);
    const counts = Object.fromEntries((await processed.get()).values.map((v) => [v.labels.outcome, v.value]));
    expect(counts).toEqual({ failed: 2, ok: 1 });
    // The supervisor hears of it, so `/readyz` can show a partition that keeps failing.
    expect(reported).toEqual(["started t:0", "failed t:0: store down", "failed t:0: store down", "handled t:0"]);
  });

  it("gives up on a try that never settles, and handles the chunk again", async () => {
    const { consumer, commits, deliver } = fakeConsumer();
    let calls = 0;
    await runBatchConsumer(consumer, {
      ...options(fakeProducer().producer),
      retryMinDelayMs: 1,
      handleTimeoutMs: 50,
      handle: async () => (++calls === 1 ? new Promise<never>(() => undefined) : []),
    });
    await deliver(['{"n":1}']);
    expect(calls).toBe(2);
    expect(commits).toEqual(["0:101"]);
  });

  it("heartbeats while a chunk's handling takes long", async () => {
    const { consumer, commits, deliver, state } = fakeConsumer();
    let during = 0;
    await runBatchConsumer(consumer, {
      ...options(fakeProducer().producer),
      handle: async () => {
        await new Promise((r) => setTimeout(r, 2_500));
        during = state.heartbeats;
        return [];
      },
    });
    await deliver(['{"n":1}']);
    expect(during).toBeGreaterThanOrEqual(1);
    expect(commits).toEqual(["0:101"]);
  });

  it("gives a failing chunk back uncommitted when the consumer stops, so it is read again", async () => {
    const { consumer, commits, deliver, state } = fakeConsumer();
    await runBatchConsumer(consumer, {
      ...options(fakeProducer().producer),
      retryMinDelayMs: 1,
      handle: () => {
        state.running = false;
        return Promise.reject(new Error("store down"));
      },
    });
    await expect(deliver(['{"n":1}'])).rejects.toThrow("store down");
    expect(commits).toEqual([]);
  });

  it("dead-letters malformed, off-schema and refused records with their reason and source, then commits past them", async () => {
    const { consumer, commits, deliver } = fakeConsumer();
    const dlq = fakeProducer();
    await runBatchConsumer(consumer, {
      ...options(dlq.producer),
      chunkSize: 2,
      handle: async (records) => records.filter((r) => r.n === 3).map((record) => ({ record, reason: "REFUSED" })),
    });
    await deliver(["{not json", '{"n":"x"}', '{"n":3}', '{"n":4}', '{"n":5}'], 2);
    const dead = dlq.sent.flatMap((b) => b.topicMessages!.flatMap((t) => t.messages.map((m) => ({ topic: t.topic, value: String(m.value), headers: m.headers }))));
    expect(dead).toEqual([
      { topic: "t.dlq", value: "{not json", headers: { reason: "MALFORMED_JSON", "source-topic": "t", "source-partition": "2", "source-offset": "100" } },
      { topic: "t.dlq", value: '{"n":"x"}', headers: { reason: "SCHEMA_INVALID", "source-topic": "t", "source-partition": "2", "source-offset": "101" } },
      { topic: "t.dlq", value: '{"n":3}', headers: { reason: "REFUSED", "source-topic": "t", "source-partition": "2", "source-offset": "102" } },
    ]);
    // One commit per chunk of 2, each after its chunk was handled and dead-lettered.
    expect(commits).toEqual(["2:102", "2:104", "2:105"]);
  });

  it("handles the chunks of partitions fetched together in one call and commits them in one request", async () => {
    const { consumer, commits, commitCalls, deliver } = fakeConsumer();
    const dlq = fakeProducer();
    const handled: string[][] = [];
    await runBatchConsumer(consumer, {
      ...options(dlq.producer),
      handle: async (records, origins) => {
        handled.push(origins);
        return records.filter((r) => r.n === 7).map((record) => ({ record, reason: "REFUSED" }));
      },
    });
    // kafkajs runs a fetch's partitions side by side.
    await Promise.all([deliver(['{"n":1}', '{"n":2}'], 0), deliver(['{"n":7}'], 1), deliver(['{"n":3}'], 2)]);
    expect(handled).toEqual([["t:0:100", "t:0:101", "t:1:100", "t:2:100"]]);
    expect(commitCalls.map((c) => c.toSorted())).toEqual([[0, 1, 2]]);
    expect(commits.toSorted()).toEqual(["0:102", "1:101", "2:101"]);
    // A refused record is dead-lettered from its own partition.
    const dead = dlq.sent.flatMap((b) => b.topicMessages!.flatMap((t) => t.messages.map((m) => m.headers)));
    expect(dead).toEqual([{ reason: "REFUSED", "source-topic": "t", "source-partition": "1", "source-offset": "100" }]);
  });

  it("lingers after a fetch's records are committed, so the next fetch waits, and not after an empty one", async () => {
    const { consumer, commits, deliver } = fakeConsumer();
    await runBatchConsumer(consumer, { ...options(fakeProducer().producer), lingerMs: 200, handle: async () => [] });
    let done = false;
    const running = deliver(['{"n":1}']).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 100));
    // Committed already, but kafkajs is not yet told the fetch is through.
    expect(commits).toEqual(["0:101"]);
    expect(done).toBe(false);
    await running;
    const started = Date.now();
    await deliver([]);
    expect(Date.now() - started).toBeLessThan(100);
  });
});
