import type { Admin, Message, Producer, TopicMessages } from "kafkajs";
import { Gauge, type Registry } from "prom-client";
import { sendBatchUntil } from "../clients/send-batch.ts";
import type { Logger } from "../logger.ts";
import type { ConnectionRegistry } from "../presence/connection-registry.ts";
import { createRecipientRouter } from "./recipient-router.ts";
import { gatewayDeliveryTopicName, gatewaysOfDeliveryTopics, type BroadcastEvent, type RecipientEvent } from "../contracts/topics/message-delivered.ts";

export interface DeliveryPublisherDeps {
  producer: Producer;
  registry: ConnectionRegistry;
  topicPrefix: string;
  /** How long one publish keeps re-sending while Kafka elects leaders, before it fails. @default 30000 */
  sendTimeoutMs?: number;
  /** Lists the delivery topics, and so every gateway that may hold a device, without the registry (recipient-router.ts). */
  admin: Pick<Admin, "listTopics">;
  logger?: Logger;
  /** Where `delivery_routing_everywhere` is reported. */
  metrics?: Registry;
}

/**
 * Turns per-recipient events into records on the topics of the gateways where each
 * recipient is connected right now. Recipients connected nowhere get nothing: they read
 * history when they come back (the registration-before-catch-up order makes that safe).
 * While the registry does not answer, events go to every gateway (`recipient-router.ts`), so
 * deliveries do not wait for Redis.
 */
export function createDeliveryPublisher({ producer, registry, topicPrefix, sendTimeoutMs = 30_000, admin, logger, metrics }: DeliveryPublisherDeps) {
  const everywhere = metrics
    ? new Gauge({
        name: "delivery_routing_everywhere",
        help: "1 while the connection registry does not answer and delivery events go to every gateway instead of the recipients' own",
        registers: [metrics],
      })
    : undefined;
  const listGateways = async () => gatewaysOfDeliveryTopics(topicPrefix, await admin.listTopics());
  const router = createRecipientRouter({ registry, listGateways, logger, onDegraded: (on) => everywhere?.set(on ? 1 : 0) });
  return {
    /**
     * Resolves when every record is durable in Kafka; returns how many delivery records were
     * written. `alongside`: other records that must be durable at the same time (the caller's
     * own topic), sent in the same produce request rather than a second one.
     */
    async publish(events: RecipientEvent[], alongside: TopicMessages[] = []): Promise<number> {
      if (events.length === 0 && alongside.length === 0) return 0;
      const gateways = events.length === 0 ? new Map<string, string[]>() : await router.gatewaysOf(events.map((e) => e.recipientId));
      const byTopic = new Map<string, Message[]>();
      for (const event of events) {
        for (const gatewayId of gateways.get(event.recipientId) ?? []) {
          const topic = gatewayDeliveryTopicName(topicPrefix, gatewayId);
          const list = byTopic.get(topic) ?? [];
          list.push({ key: event.recipientId, value: JSON.stringify(event), headers: { type: event.type, v: "1" } });
          byTopic.set(topic, list);
        }
      }
      if (byTopic.size === 0 && alongside.length === 0) return 0;
      const topicMessages = [...[...byTopic].map(([topic, messages]) => ({ topic, messages })), ...alongside];
      await sendBatchUntil(producer, { acks: -1, topicMessages }, Date.now() + sendTimeoutMs);
      let written = 0;
      for (const list of byTopic.values()) written += list.length;
      return written;
    },

    /**
     * One record on the topic of every gateway the registry knows (every gateway with a delivery
     * topic while the registry is away); returns how many gateways it went to.
     */
    async broadcast(event: BroadcastEvent): Promise<number> {
      const gateways = await router.liveGateways();
      if (gateways.length === 0) return 0;
      const value = JSON.stringify(event);
      await sendBatchUntil(
        producer,
        {
          acks: -1,
          topicMessages: gateways.map((gatewayId) => ({
            topic: gatewayDeliveryTopicName(topicPrefix, gatewayId),
            messages: [{ key: "*", value, headers: { type: event.type, v: "1" } }],
          })),
        },
        Date.now() + sendTimeoutMs,
      );
      return gateways.length;
    },
  };
}

export type DeliveryPublisher = ReturnType<typeof createDeliveryPublisher>;
