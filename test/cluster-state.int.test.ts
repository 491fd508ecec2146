// What test clusters leave in the shared stack is removed: by their own teardown, and at the
// next suite's start for those whose teardown never ran.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Kafka, logLevel, type Admin } from "kafkajs";
import { Redis } from "ioredis";
import { MongoClient } from "mongodb";
import { stackEnv } from "../shared/src/testing/index.ts";
import { removeAbandonedClusters, removeClusterState } from "./helpers/cluster-state.ts";

const HOUR = 3_600_000;
/** A cluster id as uniqueName makes them, started at `at`. */
const idAt = (at: number) => `tc_${at.toString(36)}_${randomBytes(3).toString("hex")}`;

describe("test clusters' leftovers", () => {
  let admin: Admin;
  let mongo: MongoClient;
  let redis: Redis;
  beforeAll(async () => {
    admin = new Kafka({ clientId: "cluster-state-test", brokers: stackEnv.kafkaBrokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    mongo = await new MongoClient(stackEnv.mongoUrl).connect();
    redis = new Redis(stackEnv.redisUrl);
  });
  afterAll(async () => {
    await admin.disconnect();
    await mongo.close();
    redis.disconnect();
  });

  async function leave(id: string): Promise<void> {
    await admin.createTopics({ topics: [{ topic: `${id}.message.send`, numPartitions: 1 }], waitForLeaders: true });
    await mongo.db(id).collection<{ _id: string }>("messages").insertOne({ _id: "m" });
    await redis.set(`${id}:presence:u`, "1");
  }
  async function present(id: string): Promise<{ topic: boolean; database: boolean; key: boolean }> {
    const topics = await admin.listTopics();
    const databases = (await mongo.db().admin().listDatabases({ nameOnly: true })).databases.map((d) => d.name);
    return { topic: topics.includes(`${id}.message.send`), database: databases.includes(id), key: (await redis.exists(`${id}:presence:u`)) === 1 };
  }

  it("removes those of clusters started over an hour ago, and keeps a running suite's", async () => {
    const abandoned = idAt(Date.now() - 2 * HOUR);
    const running = idAt(Date.now() - 60_000);
    await leave(abandoned);
    await leave(running);
    expect(await present(abandoned)).toEqual({ topic: true, database: true, key: true });

    expect(await removeAbandonedClusters()).toBeGreaterThanOrEqual(1);
    expect(await present(abandoned)).toEqual({ topic: false, database: false, key: false });
    expect(await present(running)).toEqual({ topic: true, database: true, key: true });

    // Then as its teardown does: that cluster's only.
    await removeClusterState({ KAFKA_TOPIC_PREFIX: `${running}.`, MONGO_DB: running, REDIS_PREFIX: `${running}:` });
    expect(await present(running)).toEqual({ topic: false, database: false, key: false });
  }, 60_000);
});
