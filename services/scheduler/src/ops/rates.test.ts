import { describe, expect, it } from "vitest";
import { createLogger } from "@chat/shared";
import { createProcessScraper } from "./process-scraper.ts";
import { RATE_RULES, createRates, seriesFromSamples } from "./rates.ts";

const logger = createLogger({ name: "test", level: "silent" });
const json = (body: unknown) => new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });

const counters = (sent: number | null, delivered: number | null, latency: Array<[number, number]> | null = null) => ({
  sent,
  persisted: null,
  delivered,
  latency: latency ? new Map(latency) : null,
});

describe("seriesFromSamples", () => {
  it("sums increases over processes per second, and a restarted process counts from zero", () => {
    const series = seriesFromSamples([
      { at: 10_000, byProcess: new Map([["gw-a", counters(100, 10)], ["gw-b", counters(50, 5)]]) },
      { at: 15_000, byProcess: new Map([["gw-a", counters(110, 30)], ["gw-b", counters(5, 5)]]) },
    ]);
    expect(series.sent).toEqual([[15, (10 + 5) / 5]]);
    expect(series.delivered).toEqual([[15, 20 / 5]]);
    expect(series.persisted).toEqual([[15, null]]);
  });

  it("takes latency quantiles from the buckets filled between two samples", () => {
    const series = seriesFromSamples([
      { at: 0, byProcess: new Map([["gw", counters(0, 0, [[0.1, 100], [1, 100], [Infinity, 100]])]]) },
      { at: 5000, byProcess: new Map([["gw", counters(0, 0, [[0.1, 100], [1, 110], [Infinity, 110]])]]) },
    ]);
    // All ten new observations fell between 0.1 s and 1 s.
    expect(series.p50[0]![1]).toBeCloseTo(0.1 + 0.9 * 0.5);
    expect(series.p99[0]![1]).toBeCloseTo(0.1 + 0.9 * 0.99);
  });
});

describe("createRates", () => {
  const gateway = (sent: number) => `gateway_messages_sent_total{service="gateway"} ${sent}\n`;

  it("reads the recording rules from Prometheus, adding up series and keeping NaN as a gap", async () => {
    const asked: string[] = [];
    const fakeFetch = (async (url: string | URL | Request) => {
      const u = new URL(String(url));
      asked.push(u.searchParams.get("query")!);
      expect(u.pathname).toBe("/api/v1/query_range");
      expect(u.searchParams.get("step")).toBe("15");
      const values: Array<[number, string]> = [[100, "1.5"], [115, "NaN"]];
      return json({ status: "success", data: { resultType: "matrix", result: [{ metric: { a: "1" }, values }, { metric: { a: "2" }, values: [[100, "0.5"]] }] } });
    }) as typeof fetch;
    const scraper = createProcessScraper({ processes: [{ name: "gw", url: "http://gw" }], fetch: fakeFetch });
    const rates = createRates({ scraper, prometheusUrl: "http://prom:9090", logger, fetch: fakeFetch });
    const view = await rates.rates();
    expect(view.source).toBe("prometheus");
    expect(asked.sort()).toEqual(Object.values(RATE_RULES).sort());
    expect(view.sent).toEqual([[100, 2], [115, null]]);
    expect(view.p99).toEqual([[100, 1.5], [115, null]]);
  });

  it("samples the processes when Prometheus does not answer", async () => {
    let sent = 10;
    const fakeFetch = (async (url: string | URL | Request) => {
      const u = new URL(String(url));
      if (u.host === "prom:9090") throw new TypeError("fetch failed");
      if (u.pathname === "/readyz") return json({ status: "ready", checks: {} });
      return new Response(gateway(sent));
    }) as typeof fetch;
    const scraper = createProcessScraper({ processes: [{ name: "gw", url: "http://gw" }], fetch: fakeFetch, maxAgeMs: 0 });
    const rates = createRates({ scraper, prometheusUrl: "http://prom:9090", logger, fetch: fakeFetch });
    expect(await rates.rates()).toMatchObject({ source: "processes", sent: [] });
    await new Promise((r) => setTimeout(r, 20));
    sent = 20;
    const view = await rates.rates();
    expect(view.source).toBe("processes");
    expect(view.sent).toHaveLength(1);
    expect(view.sent[0]![1]).toBeGreaterThan(0);
    expect(view.delivered[0]![1]).toBeNull();
  });
});
