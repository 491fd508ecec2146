import {
  Kafka,
  logLevel,
  type Admin,
  type Consumer,
  type ConsumerConfig,
  type ITopicConfig,
  type LogEntry,
  type Producer,
  type ProducerConfig,
} from "kafkajs";
import { Counter, type Registry } from "prom-client";
import type { Logger } from "../logger.ts";
import { withRetry } from "./retry.ts";
import { withTimeout, type Dependency } from "./dependency.ts";
import { KeyPartitioner } from "./key-partitioner.ts";
import { fixKafkajsIdleTimer } from "./kafkajs-idle-timer.ts";

fixKafkajsIdleTimer();

export interface KafkaOptions {
  clientId: string;
  brokers: string[];
  logger: Logger;
  /** Where `kafka_client_requests_total` is reported; none, no count. */
  metrics?: Registry;
}

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  replicationFactor: number;
  /** Broker-side topic settings, e.g. `{ "min.insync.replicas": "2" }`. */
  configs?: Record<string, string>;
}

export interface KafkaDependency extends Dependency {
  kafka: Kafka;
  admin: Admin;
  /**
   * Creates the listed topics that do not exist yet (existing ones are left as they are) and
   * waits until every partition has a leader, retrying without end while Kafka is not there
   * yet (a fresh 3-broker cluster answers "does not host this topic-partition" for a while).
   */
  ensureTopics(topics: TopicSpec[]): Promise<void>;
  /**
   * A connected producer: acks from all in-sync replicas (set per send), one request in
   * flight per broker so retries cannot reorder a partition, and not kafkajs-idempotent.
   */
  createProducer(config?: ProducerConfig): Promise<Producer>;
  /** A consumer (not yet connected); disconnected by `close()` if the caller has not done so. */
  createConsumer(config: ConsumerConfig): Consumer;
}

const levelMap: Record<number, "error" | "warn" | "info" | "debug"> = {
  [logLevel.ERROR]: "error",
  [logLevel.WARN]: "warn",
  [logLevel.INFO]: "info",
  [logLevel.DEBUG]: "debug",
};

/** Routes kafkajs's own logging into pino, one notch quieter (its INFO is chatty). */
function kafkaLogCreator(logger: Logger) {
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      const { message, ...extra } = log;
      const target = levelMap[level] ?? "info";
      const quieter = target === "info" ? "debug" : target;
      logger[quieter]({ namespace, ...extra }, message);
    };
}

/**
 * Counts the requests each producer and consumer sends to the brokers, by API (Produce, Fetch,
 * OffsetCommit, Heartbeat, ...): a client's cost is mostly per request, so requests per message
 * say how well its batches fill.
 */
function requestCounter(metrics: Registry | undefined) {
  if (!metrics) return undefined;
  const counter = new Counter({
    name: "kafka_client_requests_total",
    help: "Requests this process's Kafka producers and consumers sent to the brokers, by client role and API",
    labelNames: ["role", "api"] as const,
    registers: [metrics],
  });
  return (role: "producer" | "consumer") =>
    ({ payload }: { payload: { apiName: string } }) =>
      counter.inc({ role, api: payload.apiName });
}

export async function createKafka({ clientId, brokers, logger, metrics }: KafkaOptions): Promise<KafkaDependency> {
  const countRequests = requestCounter(metrics);
  const log = logger.child({ component: "kafka" });
  const kafka = new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(log),
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 5000 },
  });
  const admin = kafka.admin();
  await withRetry(() => admin.connect(), { what: "kafka admin connect", logger: log });
  log.info({ brokers }, "kafka connected");

  const producers: Producer[] = [];
  /** Consumers not yet disconnected (a supervised consumer's rebuilds leave the set). */
  const consumers = new Set<Consumer>();
  let closed = false;

  return {
    name: "kafka",
    kafka,
    admin,
    async ensureTopics(topics) {
      if (topics.length === 0) return;
      const names = topics.map((t) => t.topic);
      await withRetry(
        async () => {
          const existing = new Set(await admin.listTopics());
          const missing: ITopicConfig[] = topics
            .filter((t) => !existing.has(t.topic))
            .map((t) => ({
              topic: t.topic,
              numPartitions: t.numPartitions,
              replicationFactor: t.replicationFactor,
              configEntries: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
            }));
          if (missing.length > 0) {
            // Another process may create the same topic at the same moment; kafkajs reports
            // that as TOPIC_ALREADY_EXISTS inside the error, which is success for us.
            try {
              await admin.createTopics({ topics: missing, waitForLeaders: true });
              log.info({ topics: missing.map((t) => t.topic) }, "kafka topics created");
            } catch (err) {
              if (!String((err as Error).message).includes("already exists")) throw err;
            }
          }
          const { topics: metadata } = await admin.fetchTopicMetadata({ topics: names });
          const leaderless = metadata.flatMap((t) => t.partitions.filter((p) => p.leader < 0).map((p) => `${t.name}:${p.partitionId}`));
          if (leaderless.length > 0) throw new Error(`partitions without a leader yet: ${leaderless.slice(0, 5).join(", ")}`);
        },
        { what: `kafka topics ${names.join(", ")}`, logger: log, attempts: Infinity, maxDelayMs: 3000 },
      );
    },
    async createProducer(config) {
      // The default (murmur2, Java-compatible) partitioning, in integer arithmetic: keys land
      // where any Kafka client would put them. Not `idempotent`: after a broker loss, kafkajs's
      // idempotent producer keeps its old sequence numbers and every later send fails with
      // OUT_OF_ORDER_SEQUENCE_NUMBER until the process restarts (measured: docs/reliability.md).
      // A retry may therefore write a record twice; every consumer is idempotent on the
      // record's own ids (messageId, clientMsgId), which is what clients see.
      const producer = kafka.producer({
        idempotent: false,
        maxInFlightRequests: 1,
        // Callers retry whole batches with sendBatchUntil (send-batch.ts explains why).
        retry: { retries: 0 },
        allowAutoTopicCreation: false,
        createPartitioner: KeyPartitioner,
        ...config,
      });
      if (countRequests) producer.on(producer.events.REQUEST, countRequests("producer"));
      await withRetry(() => producer.connect(), { what: "kafka producer connect", logger: log });
      producers.push(producer);
      return producer;
    },
    createConsumer(config) {
      const consumer = kafka.consumer({ allowAutoTopicCreation: false, ...config });
      consumers.add(consumer);
      if (countRequests) consumer.on(consumer.events.REQUEST, countRequests("consumer"));
      consumer.on(consumer.events.DISCONNECT, () => consumers.delete(consumer));
      return consumer;
    },
    check: async () => {
      await withTimeout(admin.describeCluster(), 3000, "kafka describeCluster");
    },
    close: async () => {
      if (closed) return;
      closed = true;
      // Consumers first (they may still be producing follow-up events), then producers flush.
      await Promise.allSettled([...consumers].map((c) => c.disconnect()));
      await Promise.allSettled(producers.map((p) => p.disconnect()));
      await admin.disconnect();
    },
  };
}
