import { randomBytes } from "node:crypto";
import { isLoopback } from "@chat/loadtest/src/loopback.ts";
import { seedUsers } from "@chat/loadtest/src/seed-users.ts";
import { SEED_PASSWORD, createDirectConversation } from "./api.ts";
import { ChaosDevice, type ChaosEvent, type DeviceSettings, type DeviceStats } from "./chaos-device.ts";
import { MessageLedger, type ChaosReport, type LedgerCounts, type TimeWindow } from "./ledger.ts";

export type { ChaosEvent } from "./chaos-device.ts";
export type { ChaosReport, LedgerCounts, TimeWindow } from "./ledger.ts";
export { readinessWatcher, type ReadinessRecord, type ReadinessWatcher } from "./readiness.ts";

export interface ChaosLoadOptions {
  /** Gateway base URLs (loopback only); pair k has one user on gateway k and the other on k+1. */
  gateways: string[];
  /** The auth service's internal URL and token, to seed users in bulk. */
  authUrl: string;
  internalToken: string;
  /** Direct conversations, each between two users. @default 40 */
  pairs?: number;
  /** Messages per second, all pairs together. @default 200 */
  rate?: number;
  /** Seeded usernames are `<prefix><n>`; the same prefix reuses the same users. @default "chaos_" */
  userPrefix?: string;
  /** No ack within this long counts as `ACK_TIMEOUT` and the message is resent. @default 15000 */
  ackTimeoutMs?: number;
  /** No `resumed` within this long after a reconnect: resume again with the `resume` event. @default 20000 */
  resumeTimeoutMs?: number;
  /** Reconnection backoff bounds. @default 250 and 2000 */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Socket.IO handshake timeout. @default 10000 */
  connectTimeoutMs?: number;
  /** Emits per second a device allows itself, resends included (the gateway allows 50). @default 25 */
  eventsPerSecondPerDevice?: number;
  /** Sending stops by itself after this long, whatever the caller does. @default 1800000 (30 min) */
  maxSendingMs?: number;
  /** Seeding, connecting and pairing must be done within this long. @default 60000 */
  setupTimeoutMs?: number;
  /** Progress, for a caller that wants to show it. */
  onEvent?: (event: ChaosEvent) => void;
}

export interface ChaosSnapshot extends LedgerCounts, Omit<DeviceStats, "connects"> {
  at: number;
  sending: boolean;
  devices: number;
  connected: number;
  resuming: number;
  /** Messages waiting in the devices' outboxes (new or to be resent). */
  queued: number;
}

export interface DrainResult {
  /** Every message was acknowledged and every acknowledged one delivered. */
  drained: boolean;
  waitedMs: number;
  pendingAcks: number;
  undelivered: number;
}

export interface ChaosLoad {
  /** When sending started (epoch ms). */
  readonly startedAt: number;
  /** Conversation ids, by pair. */
  readonly conversationIds: readonly string[];
  /** No new messages from now on; resends of unacknowledged ones go on. */
  stopSending(): void;
  /**
   * Stops sending (if not yet), then waits, polling, until every message is acknowledged and
   * every acknowledged one delivered to its recipient, or the timeout passes.
   */
  drain(options?: { timeoutMs?: number }): Promise<DrainResult>;
  snapshot(): ChaosSnapshot;
  report(window?: TimeWindow): ChaosReport;
  /** The latest delivery at or after `since` that came more than `lateMs` after its message was created. */
  lastLateDelivery(since: number, lateMs?: number): number | undefined;
  /** Disconnects every device and stops every timer. */
  close(): Promise<void>;
}

/** Bounds that keep a typo from turning a fault test into a load test. */
export const CHAOS_LIMITS = { maxPairs: 2000, maxRate: 5000 };

export function checkChaosOptions(o: ChaosLoadOptions): string[] {
  const problems: string[] = [];
  if (o.gateways.length === 0) problems.push("at least one gateway URL is needed");
  for (const url of [...o.gateways, o.authUrl]) if (!isLoopback(url)) problems.push(`${url}: only loopback targets are allowed`);
  const pairs = o.pairs ?? 40;
  const rate = o.rate ?? 200;
  if (!Number.isInteger(pairs) || pairs < 1 || pairs > CHAOS_LIMITS.maxPairs) problems.push(`pairs must be an integer in [1, ${CHAOS_LIMITS.maxPairs}]`);
  if (!(rate > 0 && rate <= CHAOS_LIMITS.maxRate)) problems.push(`rate must be in (0, ${CHAOS_LIMITS.maxRate}]`);
  if (o.userPrefix !== undefined && !/^[a-z0-9_]{1,12}$/.test(o.userPrefix)) problems.push("userPrefix: lowercase letters, digits and '_', up to 12");
  return problems;
}

async function inParallel<T>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}

/**
 * Seeds 2 x `pairs` users, connects each as a Socket.IO device (pair k: one on gateway k,
 * the other on gateway k+1), gives each pair a direct conversation, and starts sending at
 * `rate` messages per second, the pairs taking turns and each pair alternating direction.
 * Resolves once sending has started; prints nothing.
 */
export async function startChaosLoad(options: ChaosLoadOptions): Promise<ChaosLoad> {
  const problems = checkChaosOptions(options);
  if (problems.length > 0) throw new Error(problems.join("; "));
  const pairs = options.pairs ?? 40;
  const rate = options.rate ?? 200;
  const { gateways } = options;
  const emit = (event: ChaosEvent) => options.onEvent?.(event);
  const settings: DeviceSettings = {
    ackTimeoutMs: options.ackTimeoutMs ?? 15_000,
    resumeTimeoutMs: options.resumeTimeoutMs ?? 20_000,
    reconnectMinMs: options.reconnectMinMs ?? 250,
    reconnectMaxMs: options.reconnectMaxMs ?? 2000,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    eventsPerSecond: options.eventsPerSecondPerDevice ?? 25,
  };
  const setupDeadline = Date.now() + (options.setupTimeoutMs ?? 60_000);
  const runId = `c${Date.now().toString(36)}${randomBytes(2).toString("hex")}`;
  const conversationIds: string[] = [];
  const ledger = new MessageLedger(runId, (pair) => conversationIds[pair]!);
  // One client address per device, as real devices have: per-IP limits stay per device.
  const ipOf = (device: number) => `10.77.${(device >> 8) & 255}.${device & 255}`;

  emit({ type: "phase", phase: "seeding", at: Date.now() });
  const users = await seedUsers(options.authUrl, options.internalToken, { prefix: options.userPrefix ?? "chaos_", count: pairs * 2, password: SEED_PASSWORD });
  const devices = users.map(
    (user, index) =>
      new ChaosDevice({
        index,
        user,
        gateways,
        // Pair k = devices 2k and 2k+1, on gateways k and k+1.
        home: (Math.floor(index / 2) + (index % 2)) % gateways.length,
        ip: ipOf(index),
        ledger,
        settings,
        emit,
      }),
  );

  const timers: { ticker?: NodeJS.Timeout; autoStop?: NodeJS.Timeout } = {};
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    clearInterval(timers.ticker);
    clearTimeout(timers.autoStop);
    for (const device of devices) device.close();
    emit({ type: "phase", phase: "closed", at: Date.now() });
  };

  try {
    emit({ type: "phase", phase: "connecting", at: Date.now() });
    await inParallel(devices, 50, (device) => device.connect(setupDeadline));

    emit({ type: "phase", phase: "pairing", at: Date.now() });
    await inParallel(
      Array.from({ length: pairs }, (_, k) => k),
      20,
      async (k) => {
        const a = devices[2 * k]!;
        for (let attempt = 0; ; attempt++) {
          try {
            const conversation = await createDirectConversation(a.gatewayUrl, users[2 * k]!.accessToken, users[2 * k + 1]!.id, ipOf(2 * k));
            conversationIds[k] = conversation.id;
            // Reused users: the conversation's history so far is known, not missing.
            a.tracker.track(conversation.id, conversation.lastSeq);
            devices[2 * k + 1]!.tracker.track(conversation.id, conversation.lastSeq);
            return;
          } catch (err) {
            if (Date.now() > setupDeadline) throw err;
            await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** Math.min(attempt, 3)));
          }
        }
      },
    );
  } catch (err) {
    await close();
    throw err;
  }

  const startedAt = Date.now();
  let sending = true;
  let made = 0;
  const stopSending = () => {
    if (!sending) return;
    sending = false;
    emit({ type: "phase", phase: "stopped", at: Date.now() });
  };
  timers.ticker = setInterval(() => {
    const now = Date.now();
    if (sending) {
      const due = Math.floor(((now - startedAt) / 1000) * rate);
      for (; made < due; made++) {
        const pair = made % pairs;
        const forward = Math.floor(made / pairs) % 2 === 0;
        const [from, to] = forward ? [2 * pair, 2 * pair + 1] : [2 * pair + 1, 2 * pair];
        devices[from]!.enqueue(ledger.create(pair, from, to, now));
      }
    }
    for (const device of devices) device.pump(now);
  }, 10);
  timers.autoStop = setTimeout(stopSending, options.maxSendingMs ?? 30 * 60_000);
  emit({ type: "phase", phase: "sending", at: startedAt });

  const snapshot = (): ChaosSnapshot => {
    const sum = (pick: (d: ChaosDevice) => number) => devices.reduce((total, d) => total + pick(d), 0);
    return {
      at: Date.now(),
      sending,
      ...ledger.counts(),
      devices: devices.length,
      connected: sum((d) => (d.connected ? 1 : 0)),
      resuming: sum((d) => (d.resuming ? 1 : 0)),
      queued: sum((d) => d.queued),
      disconnects: sum((d) => d.stats.disconnects),
      connectFailures: sum((d) => d.stats.connectFailures),
      resumesOk: sum((d) => d.stats.resumesOk),
      resumeFailures: sum((d) => d.stats.resumeFailures),
      replayed: sum((d) => d.stats.replayed),
      historyPages: sum((d) => d.stats.historyPages),
      tokenRefreshes: sum((d) => d.stats.tokenRefreshes),
    };
  };

  return {
    startedAt,
    conversationIds,
    stopSending,
    async drain({ timeoutMs = 60_000 } = {}) {
      stopSending();
      emit({ type: "phase", phase: "draining", at: Date.now() });
      const started = Date.now();
      for (;;) {
        const { pendingAcks, undelivered } = ledger.counts();
        const drained = pendingAcks === 0 && undelivered === 0;
        if (drained || closed || Date.now() - started >= timeoutMs) return { drained, waitedMs: Date.now() - started, pendingAcks, undelivered };
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    snapshot,
    report: (window) => ledger.report(window),
    lastLateDelivery: (since, lateMs = 2000) => ledger.lastLateDelivery(since, lateMs),
    close,
  };
}
