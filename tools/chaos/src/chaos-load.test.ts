import { afterEach, describe, expect, it } from "vitest";
import { startFakeCluster, type FakeCluster } from "../test/fake-gateways.ts";
import { checkChaosOptions, startChaosLoad, type ChaosLoad } from "./chaos-load.ts";

describe("the chaos load's client behaviour (against in-memory gateways)", () => {
  let cluster: FakeCluster | undefined;
  let load: ChaosLoad | undefined;
  afterEach(async () => {
    await load?.close();
    await cluster?.stop();
    load = undefined;
    cluster = undefined;
  });

  it("resends unacknowledged messages with the same clientMsgId, survives a gateway crash with resume, and loses nothing", async () => {
    cluster = await startFakeCluster(2, { dropFirstAckEvery: 25 });
    load = await startChaosLoad({
      gateways: cluster.gateways,
      authUrl: cluster.authUrl,
      internalToken: "x",
      pairs: 4,
      rate: 200,
      ackTimeoutMs: 300,
      reconnectMinMs: 20,
      reconnectMaxMs: 100,
    });
    await new Promise((resolve) => setTimeout(resolve, 700));
    const crashAt = Date.now();
    await cluster.crash(0);
    await new Promise((resolve) => setTimeout(resolve, 700));
    const drain = await load.drain({ timeoutMs: 10_000 });
    expect(drain).toMatchObject({ drained: true, pendingAcks: 0, undelivered: 0 });

    const report = load.report();
    expect(report.sent).toBeGreaterThan(200);
    expect(report).toMatchObject({ acknowledged: report.sent, delivered: report.sent, lost: 0, duplicatesShown: 0, misrouted: 0 });
    // One message per clientMsgId on the server, however often it was sent.
    expect(cluster.stored()).toBe(report.sent);
    expect(report.ackFailures.ACK_TIMEOUT).toBeGreaterThan(0);

    const s = load.snapshot();
    expect(s.disconnects).toBeGreaterThanOrEqual(4); // the devices of gateway 0
    expect(s.resumesOk).toBe(s.disconnects);
    expect(s.connected).toBe(8);
    expect(load.lastLateDelivery(crashAt, 2000)).toBeUndefined();
  }, 20_000);

  it("counts refusals by code and resends them; resumes again by event when a handshake resume fails", async () => {
    cluster = await startFakeCluster(2, { refuseEvery: { every: 10, code: "KAFKA_UNAVAILABLE" }, failHandshakeResumes: true });
    load = await startChaosLoad({ gateways: cluster.gateways, authUrl: cluster.authUrl, internalToken: "x", pairs: 2, rate: 100, reconnectMinMs: 20, reconnectMaxMs: 100 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    await cluster.crash(1);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const drain = await load.drain({ timeoutMs: 10_000 });
    expect(drain.drained).toBe(true);
    const report = load.report();
    expect(report).toMatchObject({ lost: 0, duplicatesShown: 0, delivered: report.sent });
    expect(report.ackFailures.KAFKA_UNAVAILABLE).toBeGreaterThan(0);
    const s = load.snapshot();
    expect(s.disconnects).toBeGreaterThan(0);
    expect(s.resumeFailures).toBe(s.disconnects);
    expect(s.resumesOk).toBe(s.disconnects);
  }, 20_000);

  it("refuses targets off loopback and unbounded loads", () => {
    const base = { gateways: ["http://127.0.0.1:3000"], authUrl: "http://127.0.0.1:4001", internalToken: "x" };
    expect(checkChaosOptions(base)).toEqual([]);
    expect(checkChaosOptions({ ...base, gateways: ["http://10.0.0.1:3000"] }).join()).toContain("loopback");
    expect(checkChaosOptions({ ...base, authUrl: "http://example.com" }).join()).toContain("loopback");
    expect(checkChaosOptions({ ...base, pairs: 0 }).join()).toContain("pairs");
    expect(checkChaosOptions({ ...base, rate: 1e9 }).join()).toContain("rate");
  });
});
