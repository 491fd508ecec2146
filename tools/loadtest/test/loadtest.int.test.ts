import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCluster, type TestCluster } from "../../../test/helpers/cluster.ts";
import { renderHtmlReport } from "../src/report-html.ts";
import { checkOptions, runLoad } from "../src/run-load.ts";

describe("the load tester against a 2-gateway cluster", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startCluster({ gateways: 2, messageReplicas: 2 });
  });
  afterAll(() => cluster?.stop());

  it("connects a few hundred users across gateways and delivers every message once", async () => {
    const report = await runLoad({
      gateways: cluster.gateways.map((g) => g.url),
      authUrl: cluster.auth.url,
      internalToken: cluster.env.INTERNAL_API_TOKEN!,
      users: 300,
      rate: 300,
      durationMs: 5000,
      drainMs: 15_000,
    });
    expect(report.connections).toMatchObject({ ok: 300, failed: 0 });
    expect(report.messages.sent).toBeGreaterThanOrEqual(1400);
    expect(report.messages.acked).toBe(report.messages.sent);
    expect(report.messages.deliveryRatio).toBe(1);
    expect(report.messages.duplicates).toBe(0);
    expect(report.errors).toEqual({});
    expect(report.latencyMs.count).toBe(report.messages.delivered);
    expect(report.timeline.length).toBeGreaterThanOrEqual(5);
    const html = renderHtmlReport(report);
    expect(html).toContain("<svg");
    expect(html).toContain("Latency histogram");
  });

  it("refuses targets off loopback and unbounded runs", () => {
    const base = { gateways: ["http://127.0.0.1:3000"], authUrl: "http://127.0.0.1:4001", internalToken: "x", users: 10, rate: 10, durationMs: 1000 };
    expect(checkOptions(base)).toEqual([]);
    expect(checkOptions({ ...base, gateways: ["http://10.0.0.1:3000"] }).join()).toContain("loopback");
    expect(checkOptions({ ...base, users: 3 }).join()).toContain("even");
    expect(checkOptions({ ...base, durationMs: 24 * 3600_000 }).join()).toContain("duration");
  });
});
