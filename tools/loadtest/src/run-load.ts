import { io, type Socket } from "socket.io-client";
import { ErrorCounter, summarize, type Summary } from "./stats.ts";

export interface LoadOptions {
  /** Gateway base URLs; connections are spread over them round-robin. */
  gateways: string[];
  /** Internal auth service URL and token, for bulk seeding. */
  authUrl: string;
  internalToken: string;
  /** Users (and connections); pairs chat with each other across different gateways. */
  users: number;
  /** Target messages per second, all pairs together. */
  rate: number;
  durationMs: number;
  /** After the last send, how long to wait for deliveries. @default 10000 */
  drainMs?: number;
  /** Seeded usernames are `<prefix><n>`: the same prefix reuses the same users. @default "lt_" */
  userPrefix?: string;
  /** Connections opened at once. @default 100 */
  connectConcurrency?: number;
}

export interface TimelinePoint {
  second: number;
  sent: number;
  delivered: number;
  p50: number;
  p99: number;
}

export interface LoadReport {
  startedAt: string;
  options: Omit<LoadOptions, "internalToken">;
  connections: { ok: number; failed: number; connectMs: Summary };
  messages: { sent: number; acked: number; failedAcks: number; delivered: number; duplicates: number; deliveryRatio: number };
  latencyMs: Summary;
  throughput: { sentPerSecond: number; deliveredPerSecond: number };
  errors: Record<string, number>;
  timeline: TimelinePoint[];
  histogram: Array<{ upToMs: number; count: number }>;
}

export interface Progress {
  elapsedS: number;
  phase: string;
  connected: number;
  failed: number;
  sent: number;
  acked: number;
  delivered: number;
}

/** Bounds that keep an operator's typo from turning a load test into an outage. */
export const LIMITS = { maxUsers: 20_000, maxDurationMs: 15 * 60_000, maxRate: 200_000 };

const isLoopback = (url: string) => {
  const host = new URL(url).hostname;
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
};

export function checkOptions(o: LoadOptions): string[] {
  const problems: string[] = [];
  if (o.gateways.length === 0) problems.push("at least one gateway URL is needed");
  for (const g of [...o.gateways, o.authUrl]) {
    try {
      if (!isLoopback(g)) problems.push(`${g}: only loopback targets are allowed`);
    } catch {
      problems.push(`${g}: not a URL`);
    }
  }
  if (!Number.isInteger(o.users) || o.users < 2 || o.users % 2 !== 0 || o.users > LIMITS.maxUsers) {
    problems.push(`users must be an even number between 2 and ${LIMITS.maxUsers}`);
  }
  if (!(o.rate > 0 && o.rate <= LIMITS.maxRate)) problems.push(`rate must be in (0, ${LIMITS.maxRate}]`);
  if (!(o.durationMs > 0 && o.durationMs <= LIMITS.maxDurationMs)) problems.push(`duration must be in (0, ${LIMITS.maxDurationMs / 60_000} min]`);
  return problems;
}

interface Seeded {
  id: string;
  accessToken: string;
}

async function seedUsers(o: LoadOptions, prefix: string): Promise<Seeded[]> {
  const users: Seeded[] = [];
  for (let from = 0; from < o.users; from += 1000) {
    const count = Math.min(1000, o.users - from);
    const res = await fetch(new URL("/internal/users/seed", o.authUrl), {
      method: "POST",
      headers: { "content-type": "application/json", "x-internal-token": o.internalToken },
      body: JSON.stringify({ prefix, from, count, password: "loadtest-password" }),
    });
    if (!res.ok) throw new Error(`seeding failed: ${res.status} ${await res.text()}`);
    users.push(...((await res.json()) as { users: Seeded[] }).users);
  }
  return users;
}

async function inBatches<T>(items: T[], size: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(size, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}

const causeOf = (err: unknown) => {
  const e = err as { message?: string; data?: { code?: string }; code?: string };
  return e?.data?.code ?? e?.code ?? (e?.message ?? String(err)).slice(0, 80);
};

/**
 * Seeds users, connects them over the gateways, pairs them in direct conversations whose
 * two ends sit on different gateways, sends at the target rate for the duration, waits for
 * deliveries, and reports. Latency is measured from the sender's emit to the recipient's
 * `message_received`, both in this process (one clock).
 */
export async function runLoad(o: LoadOptions, onProgress: (p: Progress) => void = () => undefined): Promise<LoadReport> {
  const problems = checkOptions(o);
  if (problems.length > 0) throw new Error(problems.join("; "));
  const started = Date.now();
  const prefix = o.userPrefix ?? "lt_";
  const errors = new ErrorCounter();
  const progress: Progress = { elapsedS: 0, phase: "seeding", connected: 0, failed: 0, sent: 0, acked: 0, delivered: 0 };
  const tick = setInterval(() => {
    progress.elapsedS = Math.round((Date.now() - started) / 1000);
    onProgress({ ...progress });
  }, 1000);

  const sockets: Array<Socket | undefined> = [];
  try {
    const users = await seedUsers(o, prefix);
    progress.phase = "connecting";
    const connectMs: number[] = [];
    const runId = `r${Date.now().toString(36)}`;
    const emitAt = new Map<string, number>();
    const intended = new Map<string, string>(); // clientMsgId -> recipient user id
    const seen = new Set<string>(); // recipient + messageId
    const latencies: number[] = [];
    const perSecond = new Map<number, { sent: number; delivered: number; lat: number[] }>();
    const bucket = (t: number) => {
      const s = Math.floor((t - started) / 1000);
      let b = perSecond.get(s);
      if (!b) perSecond.set(s, (b = { sent: 0, delivered: 0, lat: [] }));
      return b;
    };
    let duplicates = 0;
    let lastDeliveredAt = 0;

    await inBatches(users, o.connectConcurrency ?? 100, async (user, i) => {
      const t0 = performance.now();
      const socket = io(o.gateways[i % o.gateways.length]!, { transports: ["websocket"], auth: { token: user.accessToken }, reconnection: false, forceNew: true, timeout: 20_000 });
      try {
        await new Promise<void>((resolve, reject) => {
          socket.once("connect", () => resolve());
          socket.once("connect_error", reject);
        });
        connectMs.push(performance.now() - t0);
        progress.connected++;
        sockets[i] = socket;
        socket.on("message_received", ({ message }: { message: { messageId: string; clientMsgId: string } }) => {
          const at = emitAt.get(message.clientMsgId);
          if (at === undefined || intended.get(message.clientMsgId) !== user.id) return; // own echo or foreign
          const key = `${user.id}:${message.messageId}`;
          if (seen.has(key)) {
            duplicates++;
            return;
          }
          seen.add(key);
          const now = performance.now();
          latencies.push(now - at);
          const b = bucket(Date.now());
          b.delivered++;
          b.lat.push(now - at);
          progress.delivered++;
          lastDeliveredAt = Date.now();
        });
      } catch (err) {
        progress.failed++;
        errors.add(`connect: ${causeOf(err)}`);
        socket.close();
      }
    });

    progress.phase = "pairing";
    const pairs: Array<{ a: number; b: number; conversationId: string }> = [];
    const pairIdx = Array.from({ length: users.length / 2 }, (_, k) => k);
    await inBatches(pairIdx, 50, async (k) => {
      const a = 2 * k;
      const b = 2 * k + 1;
      if (!sockets[a] || !sockets[b]) return;
      const res = await fetch(new URL("/api/conversations", o.gateways[a % o.gateways.length]!), {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${users[a]!.accessToken}`, "x-forwarded-for": `10.9.${k >> 8 & 255}.${k & 255}` },
        body: JSON.stringify({ participantIds: [users[b]!.id] }),
      });
      if (!res.ok) {
        errors.add(`create conversation: ${res.status}`);
        return;
      }
      pairs.push({ a, b, conversationId: ((await res.json()) as { conversation: { id: string } }).conversation.id });
    });
    if (pairs.length === 0) throw new Error("no conversation could be set up");

    progress.phase = "sending";
    let acked = 0;
    let failedAcks = 0;
    let n = 0;
    const sendStart = Date.now();
    const pending = new Set<Promise<void>>();
    while (Date.now() - sendStart < o.durationMs) {
      const due = Math.floor(((Date.now() - sendStart) / 1000) * o.rate);
      while (n < due) {
        const pair = pairs[n % pairs.length]!;
        const forward = Math.floor(n / pairs.length) % 2 === 0;
        const [from, to] = forward ? [pair.a, pair.b] : [pair.b, pair.a];
        const clientMsgId = `${runId}-${n}`;
        intended.set(clientMsgId, users[to]!.id);
        emitAt.set(clientMsgId, performance.now());
        bucket(Date.now()).sent++;
        progress.sent++;
        const p = (sockets[from]!.timeout(30_000) as unknown as { emitWithAck(e: string, d: unknown): Promise<{ ok: boolean; error?: { code: string } }> })
          .emitWithAck("send_message", { conversationId: pair.conversationId, content: `load ${n}`, clientMsgId })
          .then(
            (ack) => {
              if (ack.ok) {
                acked++;
                progress.acked++;
              } else {
                failedAcks++;
                errors.add(`send: ${ack.error?.code ?? "unknown"}`);
              }
            },
            (err: unknown) => {
              failedAcks++;
              errors.add(`send: ${causeOf(err)}`);
            },
          );
        pending.add(p);
        void p.finally(() => pending.delete(p));
        n++;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    const sendSeconds = (Date.now() - sendStart) / 1000;
    progress.phase = "draining";
    await Promise.all(pending);
    const drainUntil = Date.now() + (o.drainMs ?? 10_000);
    while (progress.delivered < acked && Date.now() < drainUntil) await new Promise((r) => setTimeout(r, 50));

    const lat = summarize(latencies);
    const edges = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, Number.POSITIVE_INFINITY];
    const counts = new Array<number>(edges.length).fill(0);
    for (const v of latencies) counts[edges.findIndex((e) => v <= e)]!++;
    const last = counts.findLastIndex((c) => c > 0);
    const histogram = edges.slice(0, last + 1).map((upToMs, i) => ({ upToMs, count: counts[i]! }));
    const timeline = [...perSecond.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([second, b]) => {
        const s = summarize(b.lat);
        return { second, sent: b.sent, delivered: b.delivered, p50: s.p50, p99: s.p99 };
      });

    const { internalToken: _secret, ...shown } = o;
    return {
      startedAt: new Date(started).toISOString(),
      options: shown,
      connections: { ok: progress.connected, failed: progress.failed, connectMs: summarize(connectMs) },
      messages: {
        sent: n,
        acked,
        failedAcks,
        delivered: progress.delivered,
        duplicates,
        deliveryRatio: acked === 0 ? 0 : Math.round((progress.delivered / acked) * 10_000) / 10_000,
      },
      latencyMs: lat,
      throughput: {
        sentPerSecond: Math.round(n / sendSeconds),
        deliveredPerSecond: Math.round(progress.delivered / Math.max(sendSeconds, (lastDeliveredAt - sendStart) / 1000)),
      },
      errors: errors.toObject(),
      timeline,
      histogram,
    };
  } finally {
    clearInterval(tick);
    for (const s of sockets) s?.close();
  }
}
