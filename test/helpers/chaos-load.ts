import { expect } from "vitest";
import { startChaosLoad, type ChaosLoad, type ChaosReport } from "../../tools/chaos/src/chaos-load.ts";
import type { TestCluster } from "./cluster.ts";

/**
 * The fault suite's steady load on a test cluster: `pairs` pairs of careful clients (resending
 * what is not acknowledged, resuming after a reconnect) sending `rate` messages a second in all,
 * as users of their own (`tag` and the time make their names).
 */
export function startLoadOn(cluster: TestCluster, { pairs, rate, tag }: { pairs: number; rate: number; tag: string }): Promise<ChaosLoad> {
  return startChaosLoad({
    gateways: cluster.gateways.map((g) => g.url),
    authUrl: cluster.auth.url,
    internalToken: cluster.env.INTERNAL_API_TOKEN!,
    pairs,
    rate,
    userPrefix: `${tag}${Date.now().toString(36)}_`,
  });
}

/**
 * Stops the load's sending, waits up to `timeoutMs` for what is owed, and checks the product's
 * guarantee: more than `minAcknowledged` acknowledged, none lost, none shown twice. A failure
 * shows the figures, and `logs` when nothing more arrives.
 */
export async function expectEveryAckDeliveredOnce(load: ChaosLoad, { timeoutMs, minAcknowledged, logs }: { timeoutMs: number; minAcknowledged: number; logs: () => string }): Promise<ChaosReport> {
  const drain = await load.drain({ timeoutMs });
  const report = load.report();
  const figures = JSON.stringify(report);
  expect(drain.drained, `${figures}\n${logs()}`).toBe(true);
  expect(report.acknowledged, figures).toBeGreaterThan(minAcknowledged);
  expect(report.lost, figures).toBe(0);
  expect(report.duplicatesShown, figures).toBe(0);
  return report;
}
