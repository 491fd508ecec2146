import { describe, expect, it } from "vitest";
import { createPresenceOrder } from "./presence-order.ts";

describe("presence order", () => {
  it("hands out a user's changes only in version order, each change to every recipient", () => {
    const order = createPresenceOrder();
    // The newer change (online, from the gateway the user moved to) arrives first...
    expect(order.admit("u1", 20)).toBe(true);
    // ...for another recipient too: the same version is the same change.
    expect(order.admit("u1", 20)).toBe(true);
    // The older one (offline, from the gateway the user left) comes late: dropped.
    expect(order.admit("u1", 10)).toBe(false);
    // Later changes go on; other users are not affected.
    expect(order.admit("u1", 30)).toBe(true);
    expect(order.admit("u2", 5)).toBe(true);
  });

  it("hands out changes without a version (from gateways that predate them) as they come", () => {
    const order = createPresenceOrder();
    expect(order.admit("u1", 20)).toBe(true);
    expect(order.admit("u1", undefined)).toBe(true);
  });

  it("forgets users whose newest change is older than it remembers", () => {
    const order = createPresenceOrder(1000);
    const t0 = Date.now();
    expect(order.admit("u1", 20, t0)).toBe(true);
    expect(order.admit("u2", 20, t0 + 900)).toBe(true);
    expect(order.size).toBe(2);
    expect(order.admit("u3", 1, t0 + 1500)).toBe(true);
    // u1 was forgotten (1.5 s old), u2 (0.6 s) was not.
    expect(order.size).toBe(2);
    expect(order.admit("u2", 10, t0 + 1500)).toBe(false);
    expect(order.admit("u1", 10, t0 + 1500)).toBe(true);
  });
});
