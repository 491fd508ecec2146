import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { StoredMessage } from "@chat/shared/contracts";
import type { LocalSessions } from "./connection/sessions.ts";

/** End-to-end delivery latency buckets (seconds): from the sender's gateway taking it to a device getting it. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** What a gateway tells Prometheus about its devices and the messages through it. */
export function createGatewayMetrics(registry: Registry, sessions: LocalSessions) {
  new Gauge({
    name: "gateway_connected_devices",
    help: "Devices connected to this gateway",
    registers: [registry],
    collect() {
      this.set(sessions.size);
    },
  });
  new Gauge({
    name: "gateway_connected_users",
    help: "Distinct users with a device connected to this gateway",
    registers: [registry],
    collect() {
      this.set(sessions.users);
    },
  });
  const sent = new Counter({ name: "gateway_messages_sent_total", help: "Messages acknowledged to their sender (durable in Kafka)", registers: [registry] });
  const delivered = new Counter({ name: "gateway_messages_delivered_total", help: "Messages handed to a device on this gateway (one per device)", registers: [registry] });
  const latency = new Histogram({
    name: "chat_delivery_latency_seconds",
    help: "From a message's sentAt (its sender's gateway) to its delivery event reaching this gateway, per recipient",
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const consumed = new Counter({
    name: "gateway_delivery_events_consumed_total",
    help: "Delivery events this gateway read from its own topic",
    labelNames: ["type"] as const,
    registers: [registry],
  });
  return {
    messageSent: () => sent.inc(),
    messageDelivered(message: StoredMessage, devices: number): void {
      if (devices > 0) delivered.inc(devices);
      const ms = Date.now() - Date.parse(message.sentAt);
      if (Number.isFinite(ms)) latency.observe(Math.max(0, ms) / 1000);
    },
    consumed,
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
