import { startChaosLoad, type ChaosLoad } from "../../tools/chaos/src/chaos-load.ts";
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
