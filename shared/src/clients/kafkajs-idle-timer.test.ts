import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { fixKafkajsIdleTimer } from "./kafkajs-idle-timer.ts";

type Queue = {
  pending: unknown[];
  inflight: Map<number, unknown>;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  destroy(): void;
};
const RequestQueue = createRequire(import.meta.url)("kafkajs/src/network/requestQueue/index.js") as new (opts: object) => Queue;
const logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const queue = () => new RequestQueue({ maxInFlightRequests: 1, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: "t", broker: "b", logger });

describe("fixKafkajsIdleTimer", () => {
  it("leaves an idle connection without a timer, and still schedules a check while requests wait", () => {
    fixKafkajsIdleTimer();
    fixKafkajsIdleTimer(); // idempotent
    const idle = queue();
    idle.checkPendingRequests();
    expect(idle.throttleCheckTimeoutId).toBeNull();

    const busy = queue();
    busy.pending.push({ correlationId: 1 });
    busy.inflight.set(0, {}); // the in-flight limit holds the pending request back
    busy.checkPendingRequests();
    expect(busy.throttleCheckTimeoutId).not.toBeNull();
    busy.destroy();
  });
});
