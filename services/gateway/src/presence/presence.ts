import type { ConnectionRegistry, DeliveryPublisher, Logger } from "@chat/shared";
import type { RecipientEvent } from "@chat/shared/contracts";
import type { MessageClient } from "../backend/message-client.ts";

export interface PresenceDeps {
  gatewayId: string;
  registry: ConnectionRegistry;
  messages: MessageClient;
  delivery: DeliveryPublisher;
  logger: Logger;
  heartbeatMs: number;
  sweepMs: number;
  /** This gateway's connected devices per user, as it knows them: the truth the registry is restored from. */
  localDevices: () => Map<string, number>;
}

/**
 * Online/offline across replicas. A user is online while any device is connected to any
 * gateway (the registry's counts decide "first" and "last"); the users who share a
 * conversation with them hear `user_online` / `user_offline` through their own gateways.
 * A gateway that dies silently stops heart-beating; any live gateway's sweep then takes
 * its users offline. Each heartbeat also checks that the registry still holds this gateway's
 * connections and writes them back if not (Redis restarted empty, or this gateway was paused
 * long enough to be swept): otherwise its users would silently stop getting messages.
 */
export function createPresence({ gatewayId, registry, messages, delivery, logger, heartbeatMs, sweepMs, localDevices }: PresenceDeps) {
  const log = logger.child({ component: "presence" });
  const timers: NodeJS.Timeout[] = [];

  async function announce(userIds: string[], online: boolean): Promise<void> {
    for (const userId of userIds) {
      try {
        const contacts = await messages.contactsOf(userId);
        const events: RecipientEvent[] = contacts.map((recipientId) => ({ v: 1, type: "presence", recipientId, userId, online }));
        await delivery.publish(events);
      } catch (err) {
        log.warn({ err, userId, online }, "presence announcement failed");
      }
    }
  }

  async function heartbeat(): Promise<void> {
    await registry.heartbeat(gatewayId);
    const devices = localDevices();
    if (devices.size === 0 || (await registry.holdsConnectionsOf(gatewayId))) return;
    await registry.restore(gatewayId, devices);
    log.warn({ users: devices.size }, "registry had lost this gateway's connections; restored them");
  }

  async function sweep(): Promise<void> {
    for (const dead of await registry.deadGateways()) {
      if (dead === gatewayId) continue;
      const offline = await registry.sweepGateway(dead);
      if (offline === undefined) continue;
      log.info({ deadGateway: dead, users: offline.length }, "swept dead gateway");
      await announce(offline, false);
    }
  }

  return {
    /** Before taking connections: forget what a previous life of this gateway left behind. */
    async start(): Promise<void> {
      const stale = (await registry.sweepGateway(gatewayId)) ?? [];
      await registry.heartbeat(gatewayId);
      if (stale.length > 0) await announce(stale, false);
      timers.push(
        setInterval(() => void heartbeat().catch((err: unknown) => log.warn({ err }, "heartbeat failed")), heartbeatMs),
        setInterval(() => void sweep().catch((err: unknown) => log.warn({ err }, "sweep failed")), sweepMs),
      );
    },

    async connected(userId: string): Promise<void> {
      if (await registry.register(gatewayId, userId)) void announce([userId], true);
    },

    async disconnected(userId: string): Promise<void> {
      if (await registry.unregister(gatewayId, userId)) await announce([userId], false);
    },

    /** Stops heart-beating and removes this gateway from the registry (clean shutdown). */
    async stop(): Promise<void> {
      for (const t of timers) clearInterval(t);
      const left = (await registry.sweepGateway(gatewayId)) ?? [];
      if (left.length > 0) await announce(left, false);
    },
  };
}

export type Presence = ReturnType<typeof createPresence>;
