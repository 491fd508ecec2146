import type { Consumer, ConsumerConfig } from "kafkajs";
import { Counter, Gauge, type Registry } from "prom-client";
import type { Logger } from "../logger.ts";
import type { ReadinessCheck } from "./dependency.ts";
import { backoffDelay, sleep } from "./retry.ts";

/** Where a supervised consumer is: only `joined` means it is consuming. */
export type ConsumerState = "starting" | "joined" | "rebalancing" | "crashed" | "stopped";

const STATES: ConsumerState[] = ["starting", "joined", "rebalancing", "crashed", "stopped"];

export interface SupervisedConsumerOptions {
  /** Builds a fresh kafkajs consumer (each rebuild gets a new one). */
  createConsumer: (config: ConsumerConfig) => Consumer;
  config: ConsumerConfig;
  /** Names the consumer in logs, metrics and `/readyz`, e.g. `message.send`. */
  name: string;
  logger: Logger;
  /** Where the state, crash and rebuild metrics go. */
  registry?: Registry;
  /**
   * Subscribes and calls `run()` on a connected consumer; called again after every rebuild.
   * A consumer that handles records itself tells `handling` how each partition's records fare.
   */
  start(consumer: Consumer, handling: HandlingReport): Promise<void>;
  /** A consumer that has not been in its group for this long is rebuilt. @default 60000 */
  stuckAfterMs?: number;
  /**
   * A consumer in its group that has held records of one partition this long without handling
   * them (its tries failing, or one not settling) is not ready: `/readyz` says so. It is not
   * rebuilt: a dependency that is away comes back by itself, and a rebuild would only give up
   * the group. @default 30000
   */
  stalledAfterMs?: number;
  /** First delay between failed starts; doubles up to `maxDelayMs`. @default 500 */
  minDelayMs?: number;
  /** @default 10000 */
  maxDelayMs?: number;
}

/** How the records of each partition (`topic:partition`) fare in the consumer's hands. */
export interface HandlingReport {
  /** The consumer took records of the partition in hand. */
  started(partition: string): void;
  /** A try at them failed; they will be tried again. */
  failed(partition: string, err: unknown): void;
  /** They were handled. */
  handled(partition: string): void;
}

export interface SupervisedConsumer extends ReadinessCheck {
  readonly state: ConsumerState;
  /** Times the consumer was rebuilt after a crash kafkajs gave up on, or after being stuck. */
  readonly rebuilds: number;
  /** Leaves the group (waiting for the batch in hand) and stops supervising. */
  stop(): Promise<void>;
}

interface ConsumerMetrics {
  state: Gauge<"consumer" | "state">;
  crashes: Counter<"consumer" | "restart">;
  rebuilds: Counter<"consumer" | "reason">;
  joins: Counter<"consumer">;
  lag: Gauge<"group" | "topic" | "partition">;
}

const metricsByRegistry = new WeakMap<Registry, ConsumerMetrics>();

function consumerMetrics(registry: Registry): ConsumerMetrics {
  let m = metricsByRegistry.get(registry);
  if (!m) {
    m = {
      state: new Gauge({
        name: "kafka_consumer_state",
        help: "1 for the state each supervised Kafka consumer is in (joined = consuming)",
        labelNames: ["consumer", "state"] as const,
        registers: [registry],
      }),
      crashes: new Counter({
        name: "kafka_consumer_crashes_total",
        help: "Crashes kafkajs reported, by whether kafkajs restarts the consumer itself",
        labelNames: ["consumer", "restart"] as const,
        registers: [registry],
      }),
      rebuilds: new Counter({
        name: "kafka_consumer_rebuilds_total",
        help: "Consumers rebuilt and re-joined by the supervisor, by reason",
        labelNames: ["consumer", "reason"] as const,
        registers: [registry],
      }),
      joins: new Counter({
        name: "kafka_consumer_joins_total",
        help: "Times each supervised consumer joined its group: one at the start, one more after every rebalance, eviction or rebuild",
        labelNames: ["consumer"] as const,
        registers: [registry],
      }),
      lag: new Gauge({
        name: "kafka_consumer_lag",
        help: "Records behind the partition's end after the last batch this process handled (high watermark - 1 - last offset)",
        labelNames: ["group", "topic", "partition"] as const,
        registers: [registry],
      }),
    };
    metricsByRegistry.set(registry, m);
  }
  return m;
}

/**
 * Keeps one Kafka consumer group member alive for the life of the process. kafkajs restarts
 * a consumer after a retriable crash, but gives up for good after a non-retriable one (e.g.
 * "Broker N not found in the cached metadata" while a broker is gone), leaving the process
 * up with nobody consuming. This rebuilds the consumer instead, with backoff and without end,
 * and also rebuilds one that stays out of its group for `stuckAfterMs`. Its `check()` fails
 * unless the consumer is in its group, so `/readyz` tells the truth meanwhile, and also while
 * it has held records of one of its partitions for `stalledAfterMs` without handling them.
 */
export function superviseConsumer(options: SupervisedConsumerOptions): SupervisedConsumer {
  const { createConsumer, config, name, start, stuckAfterMs = 60_000, stalledAfterMs = 30_000, minDelayMs = 500, maxDelayMs = 10_000 } = options;
  const log = options.logger.child({ component: "kafka-consumer", consumer: name, groupId: config.groupId });
  const metrics = options.registry ? consumerMetrics(options.registry) : undefined;

  let state: ConsumerState = "starting";
  let since = Date.now();
  let current: Consumer | undefined;
  /** Bumped by every rebuild: events from an older consumer are ignored. */
  let generation = 0;
  let building = false;
  let stopped = false;
  let rebuilds = 0;
  /** Partitions with records in hand: since when, and the latest failed try's error. */
  const inHand = new Map<string, { since: number; error?: string }>();
  /** The partitions whose lag this consumer reports, by "topic:partition". */
  const lagShown = new Map<string, { group: string; topic: string; partition: string }>();
  const handling: HandlingReport = {
    started(partition) {
      if (!inHand.has(partition)) inHand.set(partition, { since: Date.now() });
    },
    failed(partition, err) {
      const error = err instanceof Error ? err.message : String(err);
      inHand.set(partition, { since: inHand.get(partition)?.since ?? Date.now(), error });
    },
    handled(partition) {
      inHand.delete(partition);
    },
  };

  const setState = (next: ConsumerState) => {
    if (next !== state) log.info({ from: state, to: next }, "kafka consumer state");
    state = next;
    since = Date.now();
    if (metrics) for (const s of STATES) metrics.state.set({ consumer: name, state: s }, s === next ? 1 : 0);
  };
  setState("starting");

  function watch(consumer: Consumer, gen: number): void {
    const mine = () => gen === generation && !stopped;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      if (!mine()) return;
      metrics?.joins.inc({ consumer: name });
      // A new assignment: the records in hand may be someone else's now, and so may the
      // partitions whose lag this process showed (their new owner shows it; a figure left here
      // would stay at whatever it was when they moved).
      inHand.clear();
      const assigned = (payload as { memberAssignment?: Record<string, number[]> }).memberAssignment ?? {};
      for (const [key, labels] of lagShown) {
        if (assigned[labels.topic]?.includes(Number(labels.partition))) continue;
        metrics?.lag.remove(labels);
        lagShown.delete(key);
      }
      setState("joined");
    });
    consumer.on(consumer.events.REBALANCING, () => mine() && setState("rebalancing"));
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (!mine()) return;
      const labels = { group: config.groupId, topic: payload.topic, partition: String(payload.partition) };
      lagShown.set(`${labels.topic}:${labels.partition}`, labels);
      metrics?.lag.set(labels, Math.max(0, Number(payload.offsetLag)));
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!mine()) return;
      metrics?.crashes.inc({ consumer: name, restart: String(payload.restart) });
      setState("crashed");
      if (payload.restart) {
        log.warn({ err: payload.error }, "kafka consumer crashed; kafkajs restarts it");
      } else {
        log.error({ err: payload.error }, "kafka consumer crashed and kafkajs will not restart it; rebuilding it");
        void rebuild("crash");
      }
    });
  }

  async function rebuild(reason: "crash" | "stuck" | "initial"): Promise<void> {
    const gen = ++generation;
    building = true;
    if (reason !== "initial") {
      rebuilds++;
      metrics?.rebuilds.inc({ consumer: name, reason });
    }
    const old = current;
    current = undefined;
    if (old) await old.disconnect().catch((err: unknown) => log.debug({ err }, "old consumer did not disconnect cleanly"));
    try {
      for (let attempt = 1; gen === generation && !stopped; attempt++) {
        if (state !== "crashed") setState("starting");
        const consumer = createConsumer(config);
        watch(consumer, gen);
        try {
          await consumer.connect();
          await start(consumer, handling);
          if (gen !== generation || stopped) {
            await consumer.disconnect().catch(() => undefined);
            return;
          }
          current = consumer;
          return;
        } catch (err) {
          await consumer.disconnect().catch(() => undefined);
          const delayMs = backoffDelay(attempt, minDelayMs, maxDelayMs);
          log.warn({ attempt, delayMs, err }, "kafka consumer could not join its group; waiting for Kafka and retrying");
          await sleep(delayMs);
        }
      }
    } finally {
      if (gen === generation) building = false;
    }
  }

  const watchdog = setInterval(() => {
    if (stopped || building || state === "joined") return;
    const outFor = Date.now() - since;
    if (outFor < stuckAfterMs) return;
    log.error({ state, outForMs: outFor }, "kafka consumer out of its group too long; rebuilding it");
    void rebuild("stuck");
  }, Math.min(5000, stuckAfterMs));
  watchdog.unref();

  void rebuild("initial");

  return {
    name: `consumer:${name}`,
    get state() {
      return state;
    },
    get rebuilds() {
      return rebuilds;
    },
    async check() {
      if (state !== "joined") throw new Error(`${state} for ${Math.round((Date.now() - since) / 1000)}s`);
      let oldest: { partition: string; since: number; error?: string } | undefined;
      for (const [partition, h] of inHand) if (!oldest || h.since < oldest.since) oldest = { partition, ...h };
      if (oldest && Date.now() - oldest.since >= stalledAfterMs) {
        const waited = Math.round((Date.now() - oldest.since) / 1000);
        throw new Error(`joined, but records of ${oldest.partition} have waited ${waited}s to be handled (${oldest.error ?? "a try not settled yet"})`);
      }
    },
    async stop() {
      stopped = true;
      generation++;
      clearInterval(watchdog);
      const consumer = current;
      current = undefined;
      if (consumer) await consumer.disconnect();
      setState("stopped");
    },
  };
}
