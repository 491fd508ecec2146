import { randomUUID } from "node:crypto";
import { AssignerProtocol, type IHeaders, type KafkaMessage } from "kafkajs";
import { DependencyError, NotFoundError, type KafkaDependency, type Logger } from "@chat/shared";
import type { BrokersView, ConsumerGroupView, GroupPartitionLag, RecordView, RecordsView, TopicView } from "./ops-types.ts";
import { createSerialQueue, mapLimit } from "./serial.ts";

/** Kafka's own rule for a topic name. */
export const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;
/** Records a read may ask for. */
export const MAX_RECORDS = 100;
/** A record read stops here even if some partition has not reached its high watermark. */
const READ_BUDGET_MS = 5000;
/** Groups (and topics' watermarks) asked about at once. */
const CONCURRENCY = 8;
/** The throwaway groups record reads join, so they are not listed as the cluster's. */
const READER_GROUP = "ops-console-";

export interface KafkaViewOptions {
  /** The scheduler's Kafka client, connected on first use. */
  kafka: () => Promise<KafkaDependency>;
  /** The cluster's topic prefix: only its topics and groups are shown. */
  prefix: string;
  logger: Logger;
}

const utf8 = (v: Buffer | string) => (typeof v === "string" ? v : v.toString("utf8"));

function decodeHeaders(headers: IHeaders | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.map(utf8) : utf8(v);
  }
  return out;
}

export function decodeRecord(partition: number, message: KafkaMessage): RecordView {
  let value: unknown = null;
  if (message.value) {
    const text = message.value.toString("utf8");
    try {
      value = JSON.parse(text);
    } catch {
      value = text;
    }
  }
  return {
    partition,
    offset: message.offset,
    timestamp: new Date(Number(message.timestamp)).toISOString(),
    key: message.key ? message.key.toString("utf8") : null,
    headers: decodeHeaders(message.headers),
    value,
  };
}

/**
 * Brokers, topics, consumer groups with their lag, and a topic's newest records: read
 * through the admin client and a throwaway consumer that never commits, so the console
 * writes nothing to Kafka beyond joining (and then deleting) its own reader group.
 */
export function createKafkaView({ kafka, prefix, logger }: KafkaViewOptions) {
  const log = logger.child({ component: "ops-kafka" });
  // One record read at a time: each is a consumer joining a group.
  const oneReader = createSerialQueue();

  async function withKafka<T>(what: string, fn: (k: KafkaDependency) => Promise<T>): Promise<T> {
    let k: KafkaDependency;
    try {
      k = await kafka();
    } catch (err) {
      throw new DependencyError("Kafka unavailable", err);
    }
    try {
      return await fn(k);
    } catch (err) {
      if (err instanceof NotFoundError) throw err;
      log.warn({ err, what }, "Kafka request failed");
      throw new DependencyError(`Kafka ${what} failed`, err);
    }
  }

  const ours = (name: string) => name.startsWith(prefix) && !name.startsWith("__");

  async function topicNames(k: KafkaDependency): Promise<string[]> {
    return (await k.admin.listTopics()).filter(ours).sort();
  }

  async function topics(): Promise<TopicView[]> {
    return withKafka("topics", async (k) => {
      const names = await topicNames(k);
      if (names.length === 0) return [];
      const { topics: metadata } = await k.admin.fetchTopicMetadata({ topics: names });
      return metadata
        .map((t) => {
          const partitions = t.partitions
            .map((p) => ({
              partition: p.partitionId,
              leader: p.leader,
              replicas: p.replicas,
              isr: p.isr,
              offline: p.offlineReplicas ?? [],
              underReplicated: p.isr.length < p.replicas.length,
            }))
            .sort((a, b) => a.partition - b.partition);
          return { name: t.name, partitions, underReplicated: partitions.filter((p) => p.underReplicated).length };
        })
        .sort((a, b) => a.name.localeCompare(b.name));
    });
  }

  async function consumerGroups(): Promise<ConsumerGroupView[]> {
    return withKafka("consumer groups", async (k) => {
      const ids = (await k.admin.listGroups()).groups
        .filter((g) => g.protocolType === "consumer" && g.groupId.startsWith(prefix) && !g.groupId.startsWith(`${prefix}${READER_GROUP}`))
        .map((g) => g.groupId)
        .sort();
      if (ids.length === 0) return [];
      const { groups } = await k.admin.describeGroups(ids);
      // Each topic's watermarks are read once, however many groups consume it.
      const watermarks = new Map<string, Promise<Map<number, { high: string; low: string }>>>();
      const watermarksOf = (topic: string) => {
        let w = watermarks.get(topic);
        if (!w) {
          w = k.admin.fetchTopicOffsets(topic).then((ps) => new Map(ps.map((p) => [p.partition, { high: p.high, low: p.low }])));
          watermarks.set(topic, w);
        }
        return w;
      };
      const existing = new Set(await k.admin.listTopics());

      return mapLimit(groups, CONCURRENCY, async (g): Promise<ConsumerGroupView> => {
        const members = g.members.map((m) => {
          const assignment = m.memberAssignment.length > 0 ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment) : null;
          return {
            memberId: m.memberId,
            clientId: m.clientId,
            host: m.clientHost,
            assignments: Object.entries(assignment?.assignment ?? {}).map(([topic, partitions]) => ({ topic, partitions: [...partitions].sort((a, b) => a - b) })),
          };
        });
        // Every topic it has offsets on (all of them: no topic list) or has assigned to a member.
        const offsets = new Map<string, Map<number, string>>();
        for (const c of await k.admin.fetchOffsets({ groupId: g.groupId })) offsets.set(c.topic, new Map(c.partitions.map((p) => [p.partition, p.offset])));
        for (const m of members) for (const a of m.assignments) if (!offsets.has(a.topic)) offsets.set(a.topic, new Map());

        const topics = await Promise.all(
          [...offsets]
            .filter(([topic]) => existing.has(topic))
            .sort((a, b) => a[0].localeCompare(b[0]))
            .map(async ([topic, committed]) => {
              const partitions: GroupPartitionLag[] = [...(await watermarksOf(topic))]
                .map(([partition, w]) => {
                  const offset = committed.get(partition);
                  const at = offset !== undefined && Number(offset) >= 0 ? offset : null;
                  return { partition, committed: at, high: w.high, lag: Math.max(0, Number(w.high) - Number(at ?? w.low)) };
                })
                .sort((a, b) => a.partition - b.partition);
              return { topic, partitions, lag: partitions.reduce((a, p) => a + p.lag, 0) };
            }),
        );
        return { groupId: g.groupId, state: g.state, protocol: g.protocol, members, topics, lag: topics.reduce((a, t) => a + t.lag, 0) };
      });
    });
  }

  async function readNewest(k: KafkaDependency, topic: string, limit: number): Promise<RecordsView> {
    const deadline = Date.now() + READ_BUDGET_MS;
    const targets = new Map(
      (await k.admin.fetchTopicOffsets(topic))
        .map((p) => ({ partition: p.partition, high: BigInt(p.high), start: BigInt(p.low) > BigInt(p.high) - BigInt(limit) ? BigInt(p.low) : BigInt(p.high) - BigInt(limit) }))
        .filter((p) => p.start < p.high)
        .map((p) => [p.partition, p]),
    );
    if (targets.size === 0) return { topic, limit, records: [], partial: false };

    const groupId = `${prefix}${READER_GROUP}${randomUUID()}`;
    const consumer = k.createConsumer({ groupId, maxWaitTimeInMs: 100, sessionTimeout: 10_000, heartbeatInterval: 1000, retry: { retries: 2 } });
    const records: RecordView[] = [];
    const pending = new Set(targets.keys());
    let finished!: () => void;
    const allRead = new Promise<void>((resolve) => (finished = resolve));
    let timer: NodeJS.Timeout | undefined;
    try {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: false });
      // autoCommit off: kafkajs then neither commits consumed offsets nor the seeks below.
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          const target = targets.get(partition);
          const offset = BigInt(message.offset);
          if (!target || offset < target.start || offset >= target.high) return;
          records.push(decodeRecord(partition, message));
          if (offset + 1n >= target.high && pending.delete(partition) && pending.size === 0) finished();
        },
      });
      for (const t of targets.values()) consumer.seek({ topic, partition: t.partition, offset: String(t.start) });
      const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))));
      await Promise.race([allRead, timedOut]);
    } finally {
      clearTimeout(timer);
      await consumer.disconnect().catch((err: unknown) => log.warn({ err }, "record reader did not disconnect"));
      // Best effort: an empty group without offsets may already be gone.
      await k.admin.deleteGroups([groupId]).catch((err: unknown) => log.debug({ err, groupId }, "reader group not deleted"));
    }
    records.sort((a, b) => b.timestamp.localeCompare(a.timestamp) || a.partition - b.partition || Number(BigInt(b.offset) - BigInt(a.offset)));
    return { topic, limit, records: records.slice(0, limit), partial: pending.size > 0 };
  }

  return {
    brokers(): Promise<BrokersView> {
      return withKafka("describe cluster", async (k) => {
        const c = await k.admin.describeCluster();
        return { clusterId: c.clusterId, controller: c.controller, brokers: [...c.brokers].sort((a, b) => a.nodeId - b.nodeId) };
      });
    },
    topics,
    consumerGroups,
    /** The newest `limit` records across the topic's partitions, newest first. @throws NotFoundError */
    records(topic: string, limit: number): Promise<RecordsView> {
      return withKafka("record read", async (k) => {
        // Asked by listing (never by a metadata request naming it), so nothing can create it.
        if (!ours(topic) || !(await k.admin.listTopics()).includes(topic)) throw new NotFoundError(`No topic ${topic}`, "TOPIC_NOT_FOUND");
        return oneReader(() => readNewest(k, topic, limit));
      });
    },
  };
}

export type KafkaView = ReturnType<typeof createKafkaView>;
