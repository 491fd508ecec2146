import { Kafka, logLevel, type Admin } from "kafkajs";
import { Redis } from "ioredis";
import { MongoClient } from "mongodb";
import { stackEnv } from "../../shared/src/testing/index.ts";

/**
 * Removes what a test cluster left in the shared components: its Kafka topics and consumer
 * groups, its database and its Redis keys (each named by the cluster's prefix). Without this,
 * each test cluster left about 8 topics of 4 partitions in the stack's Kafka and a database in
 * its store: after a few runs of the suite, this project's development machine had a broker
 * with 558 such topics (2,300 partition directories), all of it background work for the
 * broker that the benchmarks then measured. RabbitMQ queues stay: they are empty once the
 * cluster stops and cost next to nothing. Best effort: a cleanup that fails is reported, never
 * fails the test that ran.
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

/**
 * A test cluster's id: `<kind>_<its start time in ms, base 36>_<6 hex digits>` (uniqueName with
 * dashes as underscores), which starts its topics (followed by a dot) and names its database.
 */
const CLUSTER_ID = /^((?:tc|boot)_([0-9a-z]+)_[0-9a-f]{6})(?:\.|$)/;

/**
 * Removes what test clusters started more than `olderThanMs` ago left in the stack: those of
 * runs stopped before their teardown (Ctrl-C), and those of runs from before teardowns removed
 * anything. A suite takes minutes, so an hour-old cluster is no other run's. Returns how many.
 */
export async function removeAbandonedClusters(olderThanMs = 3_600_000): Promise<number> {
  const topics = await withKafkaAdmin(stackEnv.kafkaBrokers, (admin) => admin.listTopics());
  const databases = await withMongo(stackEnv.mongoUrl, async (mongo) => (await mongo.db().admin().listDatabases({ nameOnly: true })).databases.map((d) => d.name));
  const ids = new Set<string>();
  for (const name of [...topics, ...databases]) {
    const match = CLUSTER_ID.exec(name);
    if (match && parseInt(match[2]!, 36) < Date.now() - olderThanMs) ids.add(match[1]!);
  }
  const queue = [...ids];
  const worker = async () => {
    for (let id = queue.pop(); id !== undefined; id = queue.pop()) {
      await removeClusterState({ KAFKA_TOPIC_PREFIX: `${id}.`, MONGO_DB: id, REDIS_PREFIX: `${id}:` });
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return ids.size;
}

/** Runs `fn` with a Kafka admin client of its own (few retries: a broker away fails fast). */
async function withKafkaAdmin<T>(brokers: string[], fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = new Kafka({ clientId: "test-cleanup", brokers, logLevel: logLevel.NOTHING, retry: { retries: 2 } }).admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

async function withMongo<T>(url: string, fn: (client: MongoClient) => Promise<T>): Promise<T> {
  const client = await new MongoClient(url, { serverSelectionTimeoutMS: 5000 }).connect();
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

async function removeKafka(brokers: string[], prefix: string): Promise<void> {
  await withKafkaAdmin(brokers, async (admin) => {
    const { groups } = await admin.listGroups();
    const mine = groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix));
    if (mine.length > 0) await admin.deleteGroups(mine).catch(() => undefined);
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
  });
}

async function removeDatabase(url: string, database: string): Promise<void> {
  await withMongo(url, (client) => client.db(database).dropDatabase());
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
