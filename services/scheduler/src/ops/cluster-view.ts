import { readFileSync } from "node:fs";
import type { ClusterView, ProcessView } from "./ops-types.ts";
import { sumOf } from "./prom-text.ts";
import type { ProcessScrape, ProcessScraper } from "./process-scraper.ts";

/**
 * The release every process of the cluster runs (they share one checkout): the root
 * package.json's version, or the scheduler's own when the root has none.
 */
export function releaseVersion(): string | null {
  for (const path of ["../../../../package.json", "../../package.json"]) {
    try {
      const { version } = JSON.parse(readFileSync(new URL(path, import.meta.url), "utf8")) as { version?: unknown };
      if (typeof version === "string") return version;
    } catch {
      // not there: try the next one
    }
  }
  return null;
}

/**
 * The cluster table: each process's readiness, version and uptime, and for a gateway its
 * devices, users and delivery rate. The rate is the delivered counter's change since the
 * previous look at that gateway, kept here in memory per process.
 */
export function createClusterView({ scraper, version = releaseVersion() }: { scraper: ProcessScraper; version?: string | null }) {
  const delivered = new Map<string, { at: number; value: number; rate: number | null }>();

  function deliveryRate(s: ProcessScrape): number | null {
    const value = s.metrics ? sumOf(s.metrics, "gateway_messages_delivered_total") : null;
    if (value === null) {
      delivered.delete(s.name);
      return null;
    }
    const prev = delivered.get(s.name);
    if (prev && prev.at === s.at) return prev.rate;
    // A counter that went down is a restarted process: counted from zero again.
    const rate = prev && s.at > prev.at ? (value >= prev.value ? value - prev.value : value) / ((s.at - prev.at) / 1000) : null;
    delivered.set(s.name, { at: s.at, value, rate });
    return rate;
  }

  function toView(s: ProcessScrape): ProcessView {
    const m = s.metrics;
    const kind = m?.get("process_start_time_seconds")?.[0]?.labels.service ?? null;
    const started = m ? sumOf(m, "process_start_time_seconds") : null;
    const view: ProcessView = {
      name: s.name,
      url: s.url,
      kind,
      ready: s.readyz?.status === 200,
      status: s.readyz?.status ?? null,
      checks: s.readyz?.checks ?? {},
      version: m ? version : null,
      node: m?.get("nodejs_version_info")?.[0]?.labels.version ?? null,
      startedAt: started === null ? null : new Date(started * 1000).toISOString(),
      uptimeSeconds: started === null ? null : Math.max(0, Math.round(s.at / 1000 - started)),
    };
    if (kind === "gateway" && m) {
      view.gateway = { devices: sumOf(m, "gateway_connected_devices"), users: sumOf(m, "gateway_connected_users"), deliveredPerSecond: deliveryRate(s) };
    }
    if (s.error) view.error = s.error;
    return view;
  }

  return {
    async view(): Promise<ClusterView> {
      const scrapes = await scraper.scrape();
      return { at: new Date().toISOString(), processes: scrapes.map(toView) };
    },
  };
}

export type ClusterViewer = ReturnType<typeof createClusterView>;
