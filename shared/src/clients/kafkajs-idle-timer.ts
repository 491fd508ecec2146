import { createRequire } from "node:module";

/** The part of kafkajs 2.2.4's per-connection request queue that this fix touches. */
interface RequestQueueInternals {
  pending: unknown[];
  scheduleCheckPendingRequests(): void;
}

const FIXED = Symbol.for("chat-cluster.kafkajs-idle-timer");

/**
 * kafkajs 2.2.4 re-arms a timer on every broker connection after each check of its queue, even
 * with nothing queued and no throttling, and with a negative delay (1 ms): every connection
 * spins a timer loop for as long as it is open (tulios/kafkajs#1556, #1704; unfixed upstream).
 * Measured here: an idle gateway or message service burned 3% of a core on it, and every
 * process paid it under load too. A check only has work when requests wait in `pending` (held
 * back by the in-flight limit or a broker's throttle); then it is scheduled exactly as before.
 * An answer from the broker still checks the queue at once (`fulfillRequest`).
 *
 * Applied once per process, on first import of the Kafka client.
 */
export function fixKafkajsIdleTimer(): void {
  const require = createRequire(import.meta.url);
  const RequestQueue = require("kafkajs/src/network/requestQueue/index.js") as { prototype: RequestQueueInternals & { [FIXED]?: true } };
  const proto = RequestQueue.prototype;
  if (proto[FIXED]) return;
  const schedule = proto.scheduleCheckPendingRequests;
  if (typeof schedule !== "function") throw new Error("kafkajs changed its request queue: review fixKafkajsIdleTimer");
  proto.scheduleCheckPendingRequests = function (this: RequestQueueInternals) {
    if (this.pending.length === 0) return;
    schedule.call(this);
  };
  proto[FIXED] = true;
}
