import type { Router } from "express";
import { createKafka, withTimeout, type KafkaDependency, type Logger } from "@chat/shared";
import type { SchedulerConfig } from "../config.ts";
import type { SchedulerDeps } from "../jobs/scheduler-deps.ts";
import { createAmqpChannels } from "./amqp-channels.ts";
import { autoMessagesView } from "./automessage-view.ts";
import { createClusterView } from "./cluster-view.ts";
import { createDeadLetters } from "./dead-letters.ts";
import { createKafkaView } from "./kafka-view.ts";
import { createOpsPage } from "./ops-page.ts";
import { createOpsApi } from "./ops-routes.ts";
import { createProcessScraper } from "./process-scraper.ts";
import { createRates } from "./rates.ts";

export type OpsConsoleConfig = Pick<
  SchedulerConfig,
  "ADMIN_API_TOKEN" | "AMQP_URL" | "KAFKA_BROKERS" | "KAFKA_TOPIC_PREFIX" | "OPS_PROCESSES" | "PROMETHEUS_URL"
>;

export interface OpsConsole {
  /** The page: mount at `/ops`. */
  page: Router;
  /** The JSON API: mount at `/ops/api`. */
  api: Router;
  close(): Promise<void>;
}

/** How long an API request waits for a Kafka connection still being made. */
const KAFKA_WAIT_MS = 5000;

/**
 * Kafka for the console only: connected in the background at start, so the scheduler's
 * jobs (which never need Kafka) neither wait for it nor turn unready without it.
 */
function backgroundKafka(config: OpsConsoleConfig, logger: Logger) {
  let current: Promise<KafkaDependency> | undefined;
  let closed = false;
  const connect = () =>
    (current ??= createKafka({ clientId: "ops-console", brokers: config.KAFKA_BROKERS, logger }).catch((err: unknown) => {
      current = undefined;
      throw err;
    }));
  connect().catch((err: unknown) => logger.warn({ err }, "ops console could not reach Kafka yet"));
  return {
    get: () => {
      if (closed) return Promise.reject(new Error("closed"));
      return withTimeout(connect(), KAFKA_WAIT_MS, "kafka connect");
    },
    close: async () => {
      closed = true;
      const k = await current?.catch(() => undefined);
      await k?.close();
    },
  };
}

/** The operator console's parts, built from the scheduler's config and dependencies. */
export function createOpsConsole({ config, deps, logger }: { config: OpsConsoleConfig; deps: SchedulerDeps; logger: Logger }): OpsConsole {
  const log = logger.child({ component: "ops-console" });
  // Its own connection: a browse holds dead letters unacked on its channel, apart from the jobs' publishing.
  const amqp = createAmqpChannels({ url: config.AMQP_URL, logger: log });
  const kafka = backgroundKafka(config, log);
  const scraper = createProcessScraper({ processes: config.OPS_PROCESSES });
  const api = createOpsApi({
    adminToken: config.ADMIN_API_TOKEN,
    cluster: createClusterView({ scraper }),
    kafka: createKafkaView({ kafka: kafka.get, prefix: config.KAFKA_TOPIC_PREFIX, logger: log }),
    automessages: () => autoMessagesView(deps),
    deadLetters: createDeadLetters({ amqp, queues: deps.queues, store: deps.store, logger: log }),
    rates: createRates({ scraper, prometheusUrl: config.PROMETHEUS_URL, logger: log }),
  });
  return {
    page: createOpsPage(log),
    api,
    close: async () => {
      await kafka.close();
      await amqp.close();
    },
  };
}
