import { describe, expect, it } from "vitest";
import { gatewaysOfDeliveryTopics } from "../contracts/topics/message-delivered.ts";
import { createRecipientRouter } from "./recipient-router.ts";

/** A registry that answers, or hangs until `wake()` (as a SIGSTOPped Redis does). */
function fakeRegistry(where: Record<string, string[]>) {
  let hung = false;
  const waiting: Array<() => void> = [];
  const reads = { gatewaysOf: 0 };
  const answer = <T>(value: () => T) =>
    new Promise<T>((resolve) => {
      if (hung) waiting.push(() => resolve(value()));
      else resolve(value());
    });
  return {
    reads,
    hang: () => void (hung = true),
    wake() {
      hung = false;
      waiting.splice(0).forEach((go) => go());
    },
    gatewaysOf(userIds: string[]) {
      reads.gatewaysOf++;
      return answer(() => new Map(userIds.filter((id) => where[id]).map((id) => [id, where[id]!])));
    },
    knownGateways: () => answer(() => [...new Set(Object.values(where).flat())]),
  };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));
const listGateways = async () => ["gw-1", "gw-2"];

describe("recipient router", () => {
  it("routes by the registry while it answers", async () => {
    const registry = fakeRegistry({ alice: ["gw-1"] });
    const router = createRecipientRouter({ registry, listGateways, timeoutMs: 50 });
    expect(await router.gatewaysOf(["alice", "bob"])).toEqual(new Map([["alice", ["gw-1"]]]));
  });

  it("sends to every gateway while the registry hangs, without waiting on it again, and goes back when it answers", async () => {
    const registry = fakeRegistry({ alice: ["gw-1"] });
    const changes: boolean[] = [];
    const router = createRecipientRouter({ registry, listGateways, timeoutMs: 50, onDegraded: (on) => changes.push(on) });
    await router.gatewaysOf(["alice"]);
    await flush();

    registry.hang();
    const started = Date.now();
    expect(await router.gatewaysOf(["alice", "bob"])).toEqual(
      new Map([
        ["alice", ["gw-1", "gw-2"]],
        ["bob", ["gw-1", "gw-2"]],
      ]),
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    const readsWhileAway = registry.reads.gatewaysOf;
    const again = Date.now();
    expect(await router.gatewaysOf(["bob"])).toEqual(new Map([["bob", ["gw-1", "gw-2"]]]));
    expect(Date.now() - again).toBeLessThan(20);
    expect(registry.reads.gatewaysOf).toBe(readsWhileAway);
    expect(changes).toEqual([true]);

    registry.wake();
    await flush();
    expect(changes).toEqual([true, false]);
    expect(await router.gatewaysOf(["alice", "bob"])).toEqual(new Map([["alice", ["gw-1"]]]));
  });

  it("sends a broadcast to the live gateways, or while the registry hangs to every gateway", async () => {
    const registry = fakeRegistry({ alice: ["gw-1"] });
    const router = createRecipientRouter({ registry, listGateways, timeoutMs: 50 });
    expect(await router.liveGateways()).toEqual(["gw-1"]);
    await flush();
    registry.hang();
    expect(await router.liveGateways()).toEqual(["gw-1", "gw-2"]);
    registry.wake();
  });

  it("fails as the registry does while it has no list of gateways", async () => {
    const registry = fakeRegistry({});
    registry.hang();
    const router = createRecipientRouter({ registry, listGateways: () => new Promise<string[]>(() => undefined), timeoutMs: 20 });
    await expect(router.gatewaysOf(["alice"])).rejects.toThrow(/timed out/);
  });

  it("finds the gateways by their delivery topics, under this cluster's prefix only", () => {
    const topics = ["t1.message.delivered.gw-3000", "t1.message.send", "t2.message.delivered.gw-3001", "t1.message.delivered.", "message.delivered.gw-1"];
    expect(gatewaysOfDeliveryTopics("t1.", topics)).toEqual(["gw-3000"]);
    expect(gatewaysOfDeliveryTopics("", topics)).toEqual(["gw-1"]);
  });
});
