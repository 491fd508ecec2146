import type { ConnectionRegistry, DeliveryPublisher, Logger, PresenceChange } from "@chat/shared";
import { CONTACTS_BATCH_MAX, type RecipientEvent } from "@chat/shared/contracts";
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
  /**
   * The registry had lost this gateway's connections and they were just written back. What was
   * sent to these devices in between went to no gateway: they must catch up.
   */
  onConnectionsRestored: () => void;
}

/**
 * Online/offline across replicas. A user is online while any device is connected to any
 * gateway (the registry's counts decide "first" and "last"); the users who share a
 * conversation with them hear `user_online` / `user_offline` through their own gateways.
 * A gateway that dies silently stops heart-beating; any live gateway's sweep then takes
 * its users offline. Each heartbeat also checks that the registry still holds this gateway's
 * connections and writes them back if not (Redis restarted empty, or this gateway was paused
 * long enough to be swept): otherwise its users would silently stop getting messages. Those
 * sent to them while their entries were missing went to no gateway, so their devices are then
 * asked to reconnect, and catch up with `resume` as after any reconnect.
 *
 * A heartbeat missing from the registry proves a gateway dead only if the registry could have
 * taken it. When Redis hangs (a long pause, a frozen VM), nobody's heartbeat lands, and once it
 * answers again every other gateway looks dead for a moment: sweeping them would take their
 * connected users offline and route their messages nowhere. So this gateway sweeps only after
 * the registry has answered its own heartbeats on time for a whole TTL, and only on an answer
 * to the sweep's own question that came on time.
 */
export function createPresence({ gatewayId, registry, messages, delivery, logger, heartbeatMs, sweepMs, localDevices, onConnectionsRestored }: PresenceDeps) {
  const log = logger.child({ component: "presence" });
  const timers: NodeJS.Timeout[] = [];
  /** Since when the registry has answered this gateway's heartbeats within a heartbeat interval. */
  let promptSince = Date.now();

  /**
   * The latest announcement this gateway began for each user. A user who leaves and comes back
   * at once is announced offline, then online; their contacts are looked up in separate
   * requests, which may come back in either order (to different message replicas). An
   * announcement whose user has a newer one by the time it could publish is dropped: the newer
   * one tells the user's current state, and contacts never see a stale "offline" last. Across
   * gateways, the registry's version on each change does the same at the receiving end
   * (presence-order.ts).
   */
  const latest = new Map<string, number>();
  let begun = 0;

  // As many users at a time as one contacts request names (the message client asks for them
  // together): a swept gateway's thousands of users take a few round trips, not one each.
  async function announce(changes: PresenceChange[], online: boolean): Promise<void> {
    const mine = new Map(changes.map(({ userId }) => [userId, ++begun]));
    for (const [userId, n] of mine) latest.set(userId, n);
    const current = (userId: string) => latest.get(userId) === mine.get(userId);
    for (let i = 0; i < changes.length; i += CONTACTS_BATCH_MAX) {
      await Promise.all(
        changes.slice(i, i + CONTACTS_BATCH_MAX).map(async ({ userId, version }) => {
          try {
            if (!current(userId)) return;
            const contacts = await messages.contactsOf(userId);
            if (!current(userId)) return;
            const events: RecipientEvent[] = contacts.map((recipientId) => ({ v: 1, type: "presence", recipientId, userId, online, version }));
            await delivery.publish(events);
          } catch (err) {
            log.warn({ err, userId, online }, "presence announcement failed");
          } finally {
            if (current(userId)) latest.delete(userId);
          }
        }),
      );
    }
  }

  async function heartbeat(): Promise<void> {
    const asked = Date.now();
    try {
      await registry.heartbeat(gatewayId);
    } catch (err) {
      promptSince = Date.now();
      throw err;
    }
    if (Date.now() - asked > heartbeatMs) promptSince = Date.now();
    const devices = localDevices();
    if (devices.size === 0 || (await registry.holdsConnectionsOf(gatewayId))) return;
    await registry.restore(gatewayId, devices);
    log.warn({ users: devices.size }, "registry had lost this gateway's connections; restored them, and asking their devices to reconnect and resume");
    onConnectionsRestored();
  }

  async function sweep(): Promise<void> {
    const asked = Date.now();
    const stale = await registry.deadGateways();
    const now = Date.now();
    if (now - asked > heartbeatMs || now - promptSince < registry.gatewayTtlMs) {
      if (stale.some((gw) => gw !== gatewayId)) log.info({ stale, promptForMs: now - promptSince }, "not sweeping: the registry has not answered on time for a whole TTL");
      return;
    }
    for (const dead of stale) {
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
      const version = await registry.register(gatewayId, userId);
      if (version !== undefined) void announce([{ userId, version }], true);
    },

    async disconnected(userId: string): Promise<void> {
      const version = await registry.unregister(gatewayId, userId);
      if (version !== undefined) await announce([{ userId, version }], false);
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
