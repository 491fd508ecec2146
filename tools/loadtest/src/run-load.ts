import { io, type Socket } from "socket.io-client";
import type { ClientToServerEvents, ServerToClientEvents, StoredMessage } from "@chat/shared/contracts";
import { ContiguousSeqs, ackOutcome, awaitAnswer, catchUp, pageAfter, resumeOutcome, retryDelay, type ResumeOutcome } from "../../client/src/catch-up.ts";
import { ErrorCounter, summarize, type Summary } from "./stats.ts";
import { isLoopback } from "./loopback.ts";
import { seedUsers } from "./seed-users.ts";

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

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
  /**
   * Called as the sending phase starts and once it is over (every acknowledged message
   * delivered, or the drain timed out), so a caller can measure the steady load alone,
   * without seeding, logins, connections and pairing.
   */
  onSending?: (event: "start" | "end") => void;
}

export interface TimelinePoint {
  second: number;
  sent: number;
  delivered: number;
  p50: number;
  p99: number;
}

/** Connections lost during the run and how they came back. */
export interface ReconnectStats {
  /** Connections lost (not closed by the load tester). */
  disconnects: number;
  /** Connections re-established after a loss. */
  reconnects: number;
  /** Reconnections the gateway refused (retried with backoff). */
  refused: number;
  /** Reconnections whose resume caught up in full. */
  caughtUp: number;
  /** Resumes that failed and were sent again. */
  resumeRetries: number;
  /** Conversations given up for a non-retriable resume failure. */
  resumeDropped: number;
  /** REST history pages fetched for conversations a resume truncated. */
  historyPages: number;
}

export interface LoadReport {
  startedAt: string;
  options: Omit<LoadOptions, "internalToken">;
  connections: { ok: number; failed: number; connectMs: Summary };
  /** Absent from reports of versions that did not reconnect. */
  reconnects?: ReconnectStats;
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


export function checkOptions(o: LoadOptions): string[] {
  const problems: string[] = [];
  if (o.gateways.length === 0) problems.push("at least one gateway URL is needed");
  for (const g of [...o.gateways, o.authUrl]) {
    if (!URL.canParse(g)) problems.push(`${g}: not a URL`);
    else if (!isLoopback(g)) problems.push(`${g}: only loopback targets are allowed`);
  }
  if (!Number.isInteger(o.users) || o.users < 2 || o.users % 2 !== 0 || o.users > LIMITS.maxUsers) {
    problems.push(`users must be an even number between 2 and ${LIMITS.maxUsers}`);
  }
  if (!(o.rate > 0 && o.rate <= LIMITS.maxRate)) problems.push(`rate must be in (0, ${LIMITS.maxRate}]`);
  if (!(o.durationMs > 0 && o.durationMs <= LIMITS.maxDurationMs)) problems.push(`duration must be in (0, ${LIMITS.maxDurationMs / 60_000} min]`);
  return problems;
}

/** A resume's reads are retried by the gateway for up to 20 s before it answers: wait longer than that. */
const RESUME_TIMEOUT_MS = 30_000;

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

  const sockets: Array<ClientSocket | undefined> = [];
  /** Set once the run ends: what closes then is not a lost connection. */
  let closing = false;
  const reconnectTimers = new Set<NodeJS.Timeout>();
  try {
    const users = await seedUsers(o.authUrl, o.internalToken, { prefix, count: o.users, password: "loadtest-password" });
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

    const reconnects: ReconnectStats = { disconnects: 0, reconnects: 0, refused: 0, caughtUp: 0, resumeRetries: 0, resumeDropped: 0, historyPages: 0 };
    /** Per user: what it has seen of its conversation without a gap (what a resume asks from). */
    const seqs = users.map(() => new ContiguousSeqs());

    /** A message on user `i`'s socket, or on a REST page after a truncated resume (`paged`). */
    const receive = (i: number, message: StoredMessage, paged = false) => {
      seqs[i]!.observe(message.conversationId, message.seq);
      const user = users[i]!;
      const at = emitAt.get(message.clientMsgId);
      if (at === undefined || intended.get(message.clientMsgId) !== user.id) return; // own echo or foreign
      const key = `${user.id}:${message.messageId}`;
      if (seen.has(key)) {
        // A page may overlap live messages the gateway released after the replay: not a duplicate delivery.
        if (!paged) duplicates++;
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
    };

    /**
     * A connection lost during the run comes back as a careful client's would: socket.io
     * reconnects after a lost transport (with backoff), this after a refusal or a server-side
     * close; each handshake resumes from the contiguous seqs (`auth` below), and a resume that
     * fails is sent again with backoff until it succeeds; what it truncates is paged via REST.
     */
    const follow = (i: number, socket: ClientSocket, gateway: string, handshake: { asked: Record<string, number> | undefined }) => {
      const user = users[i]!;
      const ip = `10.8.${(i >> 8) & 255}.${i & 255}`;
      let connection = new AbortController();
      let awaitResumed: ((outcome: ResumeOutcome) => void) | undefined;
      let refusals = 0;
      const reconnectLater = () => {
        const timer = setTimeout(() => {
          reconnectTimers.delete(timer);
          if (!closing && !socket.connected) socket.connect();
        }, retryDelay(refusals++));
        reconnectTimers.add(timer);
      };
      const fetchPage = (conversationId: string) => async (afterSeq: number) => {
        const url = new URL(`/api/conversations/${encodeURIComponent(conversationId)}/messages`, gateway);
        url.searchParams.set("afterSeq", String(afterSeq));
        url.searchParams.set("limit", "200");
        const res = await fetch(url, { headers: { authorization: `Bearer ${user.accessToken}`, "x-forwarded-for": ip } });
        if (!res.ok) {
          errors.add(`history: ${res.status}`);
          throw new Error(`history: HTTP ${res.status}`);
        }
        reconnects.historyPages++;
        return (await res.json()) as { messages: StoredMessage[]; hasMore: boolean };
      };
      const catchUpOn = async (resume: Record<string, number>, signal: AbortSignal) => {
        const answer = awaitAnswer(RESUME_TIMEOUT_MS, signal);
        awaitResumed = answer.settle;
        const result = await catchUp(resume, answer.outcome, {
          signal,
          marks: () => seqs[i]!.marks(),
          send: (conversations) => ackOutcome(socket.timeout(RESUME_TIMEOUT_MS).emitWithAck("resume", { conversations }), () => socket.connected),
          onRetry: (code) => {
            reconnects.resumeRetries++;
            errors.add(`resume: ${code}`);
          },
          onDropped: (conversationId, code) => {
            reconnects.resumeDropped++;
            errors.add(`resume dropped: ${code}`);
            seqs[i]!.forget(conversationId);
          },
          onResumed: ({ truncated }) => {
            for (const id of truncated) void pageAfter(seqs[i]!.mark(id) ?? 0, fetchPage(id), (m) => receive(i, m, true), signal);
          },
        });
        if (result.caughtUp) reconnects.caughtUp++;
      };
      socket.on("resumed", (result) => awaitResumed?.(resumeOutcome(result)));
      socket.on("connect", () => {
        reconnects.reconnects++;
        connection = new AbortController();
        refusals = 0;
        if (handshake.asked) void catchUpOn(handshake.asked, connection.signal);
      });
      socket.on("disconnect", (reason) => {
        connection.abort();
        if (closing) return;
        reconnects.disconnects++;
        errors.add(`disconnect: ${reason}`);
        // A draining gateway closes its sockets itself: socket.io does not reconnect those.
        if (!socket.active) reconnectLater();
      });
      socket.on("connect_error", (err) => {
        // A lost transport is retried by socket.io itself; a refusal (e.g. UNAVAILABLE) is not.
        if (closing || socket.active) return;
        reconnects.refused++;
        errors.add(`reconnect: ${causeOf(err)}`);
        reconnectLater();
      });
    };

    await inBatches(users, o.connectConcurrency ?? 100, async (user, i) => {
      const t0 = performance.now();
      const gateway = o.gateways[i % o.gateways.length]!;
      const handshake: { asked: Record<string, number> | undefined } = { asked: undefined };
      const socket: ClientSocket = io(gateway, {
        transports: ["websocket"],
        // Called on every (re)connection: a reconnection resumes from the contiguous seqs.
        auth: (cb) => {
          const marks = seqs[i]!.marks();
          handshake.asked = Object.keys(marks).length > 0 ? marks : undefined;
          cb(handshake.asked ? { token: user.accessToken, resume: handshake.asked } : { token: user.accessToken });
        },
        reconnectionDelay: 1000,
        reconnectionDelayMax: 10_000,
        forceNew: true,
        timeout: 20_000,
      });
      try {
        await new Promise<void>((resolve, reject) => {
          socket.once("connect", () => resolve());
          socket.once("connect_error", reject);
        });
        connectMs.push(performance.now() - t0);
        progress.connected++;
        sockets[i] = socket;
        socket.on("message_received", ({ message }) => receive(i, message));
        follow(i, socket, gateway, handshake);
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
      const { conversation } = (await res.json()) as { conversation: { id: string; lastSeq: number } };
      // Both ends know the conversation up to here: a resume after a lost connection asks from this.
      seqs[a]!.track(conversation.id, conversation.lastSeq);
      seqs[b]!.track(conversation.id, conversation.lastSeq);
      pairs.push({ a, b, conversationId: conversation.id });
    });
    if (pairs.length === 0) throw new Error("no conversation could be set up");

    progress.phase = "sending";
    o.onSending?.("start");
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
    o.onSending?.("end");

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
      reconnects,
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
    closing = true;
    clearInterval(tick);
    for (const timer of reconnectTimers) clearTimeout(timer);
    for (const s of sockets) s?.close();
  }
}
