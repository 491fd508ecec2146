import { Gauge, type Registry } from "prom-client";
import type { AmqpDependency, Logger } from "@chat/shared";
import type { AutoMessageStore } from "./automessage-store.ts";
import { queueDepths } from "./commands.ts";
import type { AutoMessageQueues } from "./topology.ts";

/**
 * AutoMessages by state (summed over every plan, read by key) and the depth of their queues,
 * read when Prometheus scrapes: `automessages{state}`, `automessage_queue_depth{queue}`.
 */
export function registerAutoMessageMetrics(registry: Registry, { store, amqp, queues, logger }: { store: AutoMessageStore; amqp: AmqpDependency; queues: AutoMessageQueues; logger: Logger }): void {
  new Gauge({
    name: "automessages",
    help: "AutoMessages by state over all plans: planned, waiting (not yet due), queued, sent, failed (retrying), deadLettered",
    labelNames: ["state"] as const,
    registers: [registry],
    async collect() {
      try {
        for (const [state, n] of Object.entries(await store.stats())) this.set({ state }, n);
      } catch (err) {
        logger.debug({ err }, "AutoMessage counters unreadable for metrics");
      }
    },
  });
  new Gauge({
    name: "automessage_queue_depth",
    help: "Ready messages in the AutoMessage queues: main, retrying (all delay queues), dlq",
    labelNames: ["queue"] as const,
    registers: [registry],
    async collect() {
      try {
        for (const [queue, n] of Object.entries(await queueDepths(amqp, queues))) this.set({ queue }, n);
      } catch (err) {
        logger.debug({ err }, "AutoMessage queues unreadable for metrics");
      }
    },
  });
}
