import { Kafka, logLevel } from "kafkajs";
import { Redis } from "ioredis";
import { MongoClient } from "mongodb";
import { stackEnv } from "../../shared/src/testing/index.ts";

/**
 * Removes what a test cluster left in the shared components: its Kafka topics and consumer
 * groups, its database and its Redis keys (each named by the cluster's prefix). Without this,
 * each test cluster left about 8 topics of 4 partitions in the stack's Kafka and a database in
 * its store: after a few runs of the suite, this project's development machine had a broker
 * with 558 such topics (2,300 partition directories), all of it background work for the
 * broker that the benchmarks then measured. RabbitMQ queues stay:
 * they are empty once the cluster stops and cost next to nothing. Best effort: a cleanup that
 * fails is reported, never fails the test that ran.
 */
export async function removeClusterState(env: Record<string, string>): Promise<void> {
  const prefix = env.KAFKA_TOPIC_PREFIX;
  const database = env.MONGO_DB;
  const redisPrefix = env.REDIS_PREFIX;
  if (!prefix || !database || !redisPrefix) throw new Error("removeClusterState: the cluster's prefixes are missing");
  const results = await Promise.allSettled([
    removeKafka(env.KAFKA_BROKERS?.split(",") ?? stackEnv.kafkaBrokers, prefix),
    removeDatabase(env.MONGO_URL ?? stackEnv.mongoUrl, database),
    removeRedisKeys(env.REDIS_URL ?? stackEnv.redisUrl, redisPrefix),
  ]);
  for (const r of results) if (r.status === "rejected") console.warn(`test cluster ${prefix}: cleanup incomplete: ${String(r.reason)}`);
}

async function removeKafka(brokers: string[], prefix: string): Promise<void> {
  const admin = new Kafka({ clientId: "test-cleanup", brokers, logLevel: logLevel.NOTHING, retry: { retries: 2 } }).admin();
  await admin.connect();
  try {
    const { groups } = await admin.listGroups();
    const mine = groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix));
    if (mine.length > 0) await admin.deleteGroups(mine).catch(() => undefined);
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
  } finally {
    await admin.disconnect();
  }
}

async function removeDatabase(url: string, database: string): Promise<void> {
  const client = await new MongoClient(url, { serverSelectionTimeoutMS: 5000 }).connect();
  try {
    await client.db(database).dropDatabase();
  } finally {
    await client.close();
  }
}

async function removeRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}
