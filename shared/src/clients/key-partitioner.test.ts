import { randomBytes, randomUUID } from "node:crypto";
import { Partitioners, type PartitionMetadata } from "kafkajs";
import { describe, expect, it } from "vitest";
import { KeyPartitioner, murmur2 } from "./key-partitioner.ts";

const metadata = (n: number): PartitionMetadata[] =>
  Array.from({ length: n }, (_, partitionId) => ({ partitionId, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));

describe("KeyPartitioner", () => {
  it("computes the Java client's murmur2 (Kafka's own test vectors)", () => {
    // From Kafka's UtilsTest.testMurmur2.
    const cases: Array<[string, number]> = [
      ["21", -973932308],
      ["foobar", -790332482],
      ["a-little-bit-long-string", -985981536],
      ["a-little-bit-longer-string", -1486304829],
      ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971],
      ["abc", 479470107],
    ];
    for (const [input, hash] of cases) expect(murmur2(Buffer.from(input)), input).toBe(hash);
  });

  it("puts every key where kafkajs's default partitioner puts it", () => {
    const ours = KeyPartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    const keys = [
      ...Array.from({ length: 2000 }, () => randomUUID()),
      ...Array.from({ length: 500 }, (_, i) => randomBytes(i % 37)),
      ...["", "é", "会話", "d-AbC_123", "*"],
    ];
    for (const partitions of [1, 3, 4, 12, 50]) {
      for (const key of keys) {
        const args = { topic: "t", partitionMetadata: metadata(partitions), message: { key, value: "v" } };
        expect(ours(args)).toBe(theirs(args));
      }
    }
  });

  it("keeps an explicit partition and spreads keyless records", () => {
    const ours = KeyPartitioner();
    expect(ours({ topic: "t", partitionMetadata: metadata(12), message: { key: "k", value: "v", partition: 7 } })).toBe(7);
    const seen = new Set(Array.from({ length: 24 }, () => ours({ topic: "t", partitionMetadata: metadata(12), message: { value: "v" } })));
    expect(seen.size).toBe(12);
  });
});
