import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKafka, createLogger, type KafkaDependency } from "../src/index.ts";
import { stackEnv, uniqueName, waitFor } from "../src/testing/index.ts";

const logger = createLogger({ name: "test", level: "silent" });

describe("kafka client factory against the real broker", () => {
  let kafka: KafkaDependency;
  beforeAll(async () => {
    kafka = await createKafka({ clientId: "kafka-int-test", brokers: stackEnv.kafkaBrokers, logger });
  });
  afterAll(() => kafka.close());

  it("reports readiness", async () => {
    await expect(kafka.check()).resolves.toBeUndefined();
  });

  it("creates topics explicitly with the asked partition count, and twice is harmless", async () => {
    const topic = uniqueName("t-create");
    await kafka.ensureTopics([{ topic, numPartitions: 3, replicationFactor: 1 }]);
    await kafka.ensureTopics([{ topic, numPartitions: 3, replicationFactor: 1 }]);
    const meta = await kafka.admin.fetchTopicMetadata({ topics: [topic] });
    expect(meta.topics[0]?.partitions).toHaveLength(3);
  });

  it("produces and consumes through a consumer group and commits the offset", async () => {
    const topic = uniqueName("t-roundtrip");
    const groupId = uniqueName("g-roundtrip");
    await kafka.ensureTopics([{ topic, numPartitions: 2, replicationFactor: 1 }]);
    const producer = await kafka.createProducer();
    await producer.send({
      topic,
      acks: -1,
      messages: [
        { key: "a", value: JSON.stringify({ n: 1 }) },
        { key: "a", value: JSON.stringify({ n: 2 }) },
        { key: "b", value: JSON.stringify({ n: 3 }) },
      ],
    });

    const consumer = kafka.createConsumer({ groupId });
    const received: number[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ message, partition }) => {
        received.push((JSON.parse(String(message.value)) as { n: number }).n);
        await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
      },
    });
    await waitFor(() => received.length === 3, { what: "3 messages", timeoutMs: 30_000 });
    // Same key, same partition: order kept.
    expect(received.filter((n) => n !== 3)).toEqual([1, 2]);

    const offsets = await kafka.admin.fetchOffsets({ groupId, topics: [topic] });
    const committed = offsets[0]!.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
    expect(committed).toBe(3);
    await consumer.disconnect();
  });
});
