import { describe, expect, it } from "vitest";
import { createLogger, type ConnectionRegistry, type DeliveryPublisher } from "@chat/shared";
import type { RecipientEvent } from "@chat/shared/contracts";
import type { MessageClient } from "../backend/message-client.ts";
import { createPresence } from "./presence.ts";

/** A contacts lookup the test answers when it likes, in any order. */
interface Lookup {
  userId: string;
  answer: (contacts: string[]) => void;
}

function setup() {
  const devices = new Map<string, number>();
  let version = 0;
  const registry = {
    // Counts across the cluster, as the registry's scripts keep them: first and last device
    // decide, and each change gets a greater version.
    async register(_gw: string, userId: string) {
      devices.set(userId, (devices.get(userId) ?? 0) + 1);
      return devices.get(userId) === 1 ? ++version : undefined;
    },
    async unregister(_gw: string, userId: string) {
      devices.set(userId, (devices.get(userId) ?? 1) - 1);
      return devices.get(userId) === 0 ? ++version : undefined;
    },
  } as unknown as ConnectionRegistry;
  const lookups: Lookup[] = [];
  const messages = {
    contactsOf: (userId: string) => new Promise<string[]>((answer) => lookups.push({ userId, answer })),
  } as unknown as MessageClient;
  const published: RecipientEvent[] = [];
  const delivery = { publish: async (events: RecipientEvent[]) => void published.push(...events) } as unknown as DeliveryPublisher;
  const presence = createPresence({
    gatewayId: "gw-test",
    registry,
    messages,
    delivery,
    logger: createLogger({ name: "test", level: "silent" }),
    heartbeatMs: 1000,
    sweepMs: 1000,
    localDevices: () => new Map(),
    onConnectionsRestored: () => undefined,
  });
  const settle = () => new Promise((r) => setTimeout(r, 10));
  return { presence, lookups, published, settle };
}

describe("presence announcements", () => {
  it("tells contacts a user's last state when the lookups for leaving and coming back answer out of order", async () => {
    const { presence, lookups, published, settle } = setup();
    await presence.connected("u1");
    await settle();
    lookups.shift()!.answer(["c1", "c2"]);
    await settle();
    expect(published.map((e) => e.type === "presence" && e.online)).toEqual([true, true]);
    published.length = 0;

    // Leaves (last device) and comes back at once: two lookups in flight.
    const leaving = presence.disconnected("u1");
    await presence.connected("u1");
    await settle();
    expect(lookups.map((l) => l.userId)).toEqual(["u1", "u1"]);
    const [offline, online] = lookups.splice(0);
    online!.answer(["c1", "c2"]);
    await settle();
    offline!.answer(["c1", "c2"]);
    await leaving;
    await settle();
    // Only the newer announcement (online, the third change) went out; the late "offline" was dropped.
    expect(published).toEqual([
      { v: 1, type: "presence", recipientId: "c1", userId: "u1", online: true, version: 3 },
      { v: 1, type: "presence", recipientId: "c2", userId: "u1", online: true, version: 3 },
    ]);
  });

  it("announces each user of one call, and a later announcement of another user does not drop theirs", async () => {
    const { presence, lookups, published, settle } = setup();
    await presence.connected("a");
    await presence.connected("b");
    await settle();
    for (const l of lookups.splice(0).reverse()) l.answer([`contact-of-${l.userId}`]);
    await settle();
    expect(published.map((e) => e.type === "presence" && `${e.userId}->${e.recipientId}:${e.online}`).sort()).toEqual(["a->contact-of-a:true", "b->contact-of-b:true"]);
  });
});
