// A store outage longer than a consumer's session timeout, under load: the message replicas
// must ride it out in their groups (kafkajs heartbeats only between batches, so a consumer that
// gives its batch up while the store is away is dropped from its group and rebalances just as
// the store comes back), say in `/readyz` which partition's records wait, and deliver everything
// acknowledged meanwhile once it is back.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sleep } from "../shared/src/clients/retry.ts";
import { waitFor } from "../shared/src/testing/index.ts";
import { expectEveryAckDeliveredOnce, startLoadOn } from "./helpers/chaos-load.ts";
import { startCluster, type TestCluster } from "./helpers/cluster.ts";
import { startMongoWire, type MongoWireProcess } from "./helpers/mongo-wire.ts";
import { freePort } from "./helpers/processes.ts";

/** Group joins of each replica's message consumers so far (`kafka_consumer_joins_total`). */
async function joins(cluster: TestCluster): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of cluster.messages) {
    const text = await (await fetch(`${m.url}/metrics`)).text();
    for (const [, consumer, n] of text.matchAll(/^kafka_consumer_joins_total\{[^}]*consumer="(message\.(?:send|read))"[^}]*\} (\d+)/gm)) out[`${m.name}:${consumer}`] = Number(n);
  }
  return out;
}

/** A process's `/readyz` body: whether it is ready, and each check's outcome. */
async function readyz(p: { url: string }): Promise<{ status: string; checks: Record<string, string> }> {
  return (await (await fetch(`${p.url}/readyz`)).json()) as { status: string; checks: Record<string, string> };
}

describe("a store outage under load (its own Mongo-wire server, 2 message replicas)", () => {
  let dir = "";
  let port = 0;
  let store: MongoWireProcess | undefined;
  let cluster: TestCluster | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "chat-store-outage-"));
    port = await freePort();
    store = await startMongoWire({ port, file: join(dir, "chat.mv.db") });
    cluster = await startCluster({ gateways: 1, messageReplicas: 2, env: { MONGO_URL: store.url, MESSAGE_SESSION_TIMEOUT_MS: "10000", MESSAGE_CONSUMER_STALLED_MS: "5000" } });
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
    await store?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("keeps both replicas in their groups through 15 s without the store, with `/readyz` naming what waits, then delivers every acknowledged message once", async () => {
    const c = cluster!;
    const chaos = await startLoadOn(c, { pairs: 10, rate: 50, tag: "so" });
    try {
      await sleep(3_000);
      const before = await joins(c);
      expect(Object.keys(before)).toHaveLength(4);
      await store!.stop();
      // Longer than the consumers' 10 s session timeout.
      await sleep(10_000);
      // The replicas hold records they cannot store: past 5 s, `/readyz` names the partition.
      const stalled = await Promise.all(c.messages.map(readyz));
      expect(stalled.some((r) => /joined, but records of .*message\.send:\d+ have waited \d+s to be handled/.test(r.checks["consumer:message.send"] ?? "")), JSON.stringify(stalled)).toBe(true);
      await sleep(5_000);
      store = await startMongoWire({ port, file: join(dir, "chat.mv.db") });
      await sleep(5_000);
      await expectEveryAckDeliveredOnce(chaos, {
        timeoutMs: 60_000,
        minAcknowledged: 500,
        logs: () => c.messages.map((m) => `--- ${m.name} ---\n${m.output().slice(-3000)}`).join("\n"),
      });
      // No rebalance: every consumer is still in the group it joined before the outage.
      expect(await joins(c)).toEqual(before);
      // And every replica is ready again: nothing left in hand.
      await waitFor(async () => (await Promise.all(c.messages.map(readyz))).every((r) => r.status === "ready"), { timeoutMs: 20_000, intervalMs: 500, what: "every message replica ready" });
    } finally {
      await chaos.close();
    }
  }, 180_000);
});
