import { io, type Socket } from "socket.io-client";
import type { Ack, ClientToServerEvents, ResumeResult, ServerToClientEvents, StoredMessage } from "@chat/shared/contracts";
import type { SeededUser } from "@chat/loadtest/src/seed-users.ts";
import { HttpError, SEED_PASSWORD, historyAfter, login, refreshSession } from "./api.ts";
import type { MessageLedger } from "./ledger.ts";
import { ContiguousSeqs } from "@chat/client/src/catch-up.ts";

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Progress a caller may follow (`onEvent`); the library itself prints nothing. */
export type ChaosEvent =
  | { type: "phase"; phase: "seeding" | "connecting" | "pairing" | "sending" | "stopped" | "draining" | "closed"; at: number }
  | { type: "disconnected"; device: number; gateway: string; reason: string; at: number }
  | { type: "connect_failed"; device: number; gateway: string; code: string; at: number }
  | { type: "reconnected"; device: number; gateway: string; attempts: number; downMs: number; at: number }
  | { type: "resumed"; device: number; via: "handshake" | "event"; replayed: number; truncated: number; at: number }
  | { type: "resume_failed"; device: number; via: "handshake" | "event"; code: string; at: number }
  | { type: "token_refreshed"; device: number; at: number };

export interface DeviceSettings {
  ackTimeoutMs: number;
  resumeTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  connectTimeoutMs: number;
  /** Emits per second this device allows itself (sends and resends together). */
  eventsPerSecond: number;
}

export interface DeviceDeps {
  index: number;
  user: SeededUser;
  gateways: string[];
  /** The gateway it connects to first. */
  home: number;
  /** The address the gateways see for this device's REST calls (per-IP limits). */
  ip: string;
  ledger: MessageLedger;
  settings: DeviceSettings;
  emit: (event: ChaosEvent) => void;
}

export interface DeviceStats {
  connects: number;
  disconnects: number;
  connectFailures: number;
  resumesOk: number;
  resumeFailures: number;
  replayed: number;
  historyPages: number;
  tokenRefreshes: number;
}

const sleepFor = (ms: number) => ms * (0.75 + Math.random() * 0.25);
const backoff = (attempt: number, min: number, max: number) => sleepFor(Math.min(max, min * 2 ** attempt));

const errorCode = (err: unknown): string => {
  if (err instanceof HttpError) return err.code;
  const e = err as { data?: { code?: string }; code?: string; message?: string } | undefined;
  return e?.data?.code ?? e?.code ?? (e?.message ?? String(err)).slice(0, 60);
};

/**
 * One user's device, behaving as a careful real client: an outbox resent with the same
 * clientMsgId until acknowledged, de-duplication by messageId, reconnection (same gateway
 * first, then the others) with a resume from the contiguous seq of every conversation,
 * resume retries, and REST paging when a resume is truncated.
 */
export class ChaosDevice {
  readonly tracker = new ContiguousSeqs();
  readonly stats: DeviceStats = { connects: 0, disconnects: 0, connectFailures: 0, resumesOk: 0, resumeFailures: 0, replayed: 0, historyPages: 0, tokenRefreshes: 0 };
  private socket: ClientSocket | undefined;
  private gateway: number;
  private closed = false;
  private reconnecting = false;
  /** A resume is outstanding on the current socket. */
  private resumePending = false;
  private readonly outbox: number[] = [];
  private outboxHead = 0;
  private readonly retryAttempts = new Map<number, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly sleepers = new Set<() => void>();
  private resumeTimer: NodeJS.Timeout | undefined;
  /** `resumed` events that came before their socket was attached. */
  private readonly earlyResumes = new WeakMap<ClientSocket, ResumeResult>();
  private tokens: number;
  private tokensAt = Date.now();
  private accessToken: string;
  private refreshToken: string;
  private tokenExpiresAt: number;
  private forceRefresh = false;

  constructor(private readonly deps: DeviceDeps) {
    this.gateway = deps.home;
    this.tokens = deps.settings.eventsPerSecond;
    this.accessToken = deps.user.accessToken;
    this.refreshToken = deps.user.refreshToken;
    this.tokenExpiresAt = Date.now() + deps.user.expiresIn * 1000;
  }

  get connected(): boolean {
    return this.socket?.connected === true;
  }

  get resuming(): boolean {
    return this.resumePending;
  }

  get queued(): number {
    return this.outbox.length - this.outboxHead;
  }

  get gatewayUrl(): string {
    return this.deps.gateways[this.gateway]!;
  }

  /** The first connection, to the home gateway, retried a few times (the load does not start without it). */
  async connect(deadline: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        this.attach(await this.open(this.gateway, undefined));
        return;
      } catch (err) {
        if (this.closed || Date.now() > deadline) throw new Error(`device ${this.deps.index} could not connect to ${this.gatewayUrl}: ${errorCode(err)}`);
        await this.sleep(backoff(attempt, this.deps.settings.reconnectMinMs, this.deps.settings.reconnectMaxMs));
      }
    }
  }

  /** Queues a message of the load for sending. */
  enqueue(n: number): void {
    this.outbox.push(n);
  }

  /** Emits what the outbox holds, within this device's event budget. */
  pump(now: number): void {
    const { eventsPerSecond } = this.deps.settings;
    this.tokens = Math.min(eventsPerSecond, this.tokens + ((now - this.tokensAt) / 1000) * eventsPerSecond);
    this.tokensAt = now;
    const socket = this.socket;
    if (!socket?.connected) return;
    while (this.outboxHead < this.outbox.length && this.tokens >= 1) {
      const n = this.outbox[this.outboxHead++]!;
      if (this.deps.ledger.isAcked(n)) continue;
      this.tokens--;
      this.send(socket, n, now);
    }
    if (this.outboxHead > 1024 && this.outboxHead * 2 > this.outbox.length) {
      this.outbox.splice(0, this.outboxHead);
      this.outboxHead = 0;
    }
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const wake of this.sleepers) wake();
    this.sleepers.clear();
    this.socket?.close();
    this.socket = undefined;
  }

  private send(socket: ClientSocket, n: number, now: number): void {
    const { ledger, settings } = this.deps;
    ledger.markSent(n, now);
    const clientMsgId = ledger.clientMsgId(n);
    socket.timeout(settings.ackTimeoutMs).emit("send_message", { conversationId: ledger.conversationIdOf(n), content: `chaos ${clientMsgId}`, clientMsgId }, (err: Error | null, ack: Ack<{ messageId: string }>) => {
      if (this.closed || ledger.isAcked(n)) return;
      const at = Date.now();
      if (!err && ack.ok) {
        ledger.recordAck(n, ack.messageId, at);
        this.retryAttempts.delete(n);
        return;
      }
      const code = err ? (/disconnected/.test(err.message) ? "DISCONNECTED" : "ACK_TIMEOUT") : ack.ok ? "UNKNOWN" : ack.error.code;
      ledger.recordAckFailure(code, at);
      const attempt = (this.retryAttempts.get(n) ?? 0) + 1;
      this.retryAttempts.set(n, attempt);
      this.later(backoff(attempt - 1, 250, 5000), () => this.enqueue(n));
    });
  }

  /** Opens a socket to a gateway; resolves once connected, rejects on `connect_error`. */
  private async open(gateway: number, resume: Record<string, number> | undefined): Promise<ClientSocket> {
    await this.ensureToken(gateway);
    const url = this.deps.gateways[gateway]!;
    const socket: ClientSocket = io(url, {
      transports: ["websocket"],
      auth: resume ? { token: this.accessToken, resume } : { token: this.accessToken },
      reconnection: false,
      forceNew: true,
      timeout: this.deps.settings.connectTimeoutMs,
    });
    // Listeners first: the replay of a handshake resume (and its `resumed`) may follow the
    // connection before the code awaiting it runs.
    socket.on("message_received", ({ message }) => this.receive(message));
    socket.on("resumed", (result) => {
      if (this.socket === socket) this.handshakeResumed(socket, result);
      else this.earlyResumes.set(socket, result);
    });
    return new Promise<ClientSocket>((resolve, reject) => {
      socket.once("connect", () => {
        socket.off("connect_error");
        resolve(socket);
      });
      socket.once("connect_error", (err) => {
        socket.close();
        reject(err);
      });
    });
  }

  /** Makes `socket` the device's connection and follows its lifecycle. */
  private attach(socket: ClientSocket, resumed?: Record<string, number>): void {
    if (this.closed) {
      socket.close();
      return;
    }
    this.socket = socket;
    this.stats.connects++;
    const lost = (reason: string) => {
      if (this.closed || this.socket !== socket) return;
      this.stats.disconnects++;
      this.socket = undefined;
      this.resumePending = false;
      clearTimeout(this.resumeTimer);
      socket.close();
      this.deps.emit({ type: "disconnected", device: this.deps.index, gateway: this.gatewayUrl, reason, at: Date.now() });
      void this.reconnect();
    };
    socket.on("disconnect", lost);
    if (!socket.connected) return lost("disconnected before attached");
    if (!resumed) return;
    this.resumePending = true;
    const early = this.earlyResumes.get(socket);
    this.earlyResumes.delete(socket);
    if (early) return this.handshakeResumed(socket, early);
    this.resumeTimer = this.later(this.deps.settings.resumeTimeoutMs, () => {
      if (this.socket === socket && this.resumePending) this.resumeFailed(socket, "handshake", "RESUME_TIMEOUT", 0);
    });
  }

  /** The `resumed` that answers a handshake resume. */
  private handshakeResumed(socket: ClientSocket, result: ResumeResult): void {
    if (this.socket !== socket || !this.resumePending) return;
    clearTimeout(this.resumeTimer);
    if (result.error) this.resumeFailed(socket, "handshake", result.error.code, 0);
    else this.resumeDone(socket, "handshake", result);
  }

  private async reconnect(): Promise<void> {
    if (this.reconnecting) return;
    this.reconnecting = true;
    const down = Date.now();
    const { gateways, settings } = this.deps;
    try {
      for (let attempt = 0; !this.closed; attempt++) {
        await this.sleep(backoff(attempt, settings.reconnectMinMs, settings.reconnectMaxMs));
        if (this.closed) return;
        const resume = this.tracker.marks();
        const hasResume = Object.keys(resume).length > 0;
        try {
          const socket = await this.open(this.gateway, hasResume ? resume : undefined);
          if (this.closed) {
            socket.close();
            return;
          }
          this.attach(socket, hasResume ? resume : undefined);
          this.deps.emit({ type: "reconnected", device: this.deps.index, gateway: this.gatewayUrl, attempts: attempt + 1, downMs: Date.now() - down, at: Date.now() });
          return;
        } catch (err) {
          const code = errorCode(err);
          this.stats.connectFailures++;
          this.deps.emit({ type: "connect_failed", device: this.deps.index, gateway: this.gatewayUrl, code, at: Date.now() });
          if (code === "TOKEN_EXPIRED" || code === "TOKEN_INVALID" || code === "TOKEN_REVOKED") this.forceRefresh = true;
          // The same gateway first; once it fails to answer, the next live one.
          else this.gateway = (this.gateway + 1) % gateways.length;
        }
      }
    } finally {
      this.reconnecting = false;
    }
  }

  private resumeDone(socket: ClientSocket, via: "handshake" | "event", result: { replayed: number; truncated: string[] }): void {
    this.resumePending = false;
    this.stats.resumesOk++;
    this.stats.replayed += result.replayed;
    this.deps.emit({ type: "resumed", device: this.deps.index, via, replayed: result.replayed, truncated: result.truncated.length, at: Date.now() });
    if (result.truncated.length > 0) void this.catchUp(socket, result.truncated);
  }

  private resumeFailed(socket: ClientSocket, via: "handshake" | "event", code: string, attempt: number): void {
    this.stats.resumeFailures++;
    this.deps.emit({ type: "resume_failed", device: this.deps.index, via, code, at: Date.now() });
    this.later(backoff(attempt, 500, 5000), () => this.resumeByEvent(socket, attempt + 1));
  }

  /** `resume` as an event (after a failed or silent handshake resume), until one succeeds on this socket. */
  private resumeByEvent(socket: ClientSocket, attempt: number): void {
    if (this.closed || this.socket !== socket || !socket.connected || !this.resumePending) return;
    socket.timeout(this.deps.settings.ackTimeoutMs).emit("resume", { conversations: this.tracker.marks() }, (err: Error | null, ack: Ack<ResumeResult>) => {
      if (this.closed || this.socket !== socket || !this.resumePending) return;
      if (!err && ack.ok && !ack.error) this.resumeDone(socket, "event", ack);
      else this.resumeFailed(socket, "event", err ? "ACK_TIMEOUT" : ack.ok ? (ack.error?.code ?? "UNKNOWN") : ack.error.code, attempt);
    });
  }

  /** A resume replays a bounded number per conversation: the rest comes from REST history. */
  private async catchUp(socket: ClientSocket, conversationIds: string[]): Promise<void> {
    for (const conversationId of conversationIds) {
      for (let attempt = 0; !this.closed && this.socket === socket; ) {
        try {
          await this.ensureToken(this.gateway);
          const page = await historyAfter(this.gatewayUrl, this.accessToken, conversationId, this.tracker.mark(conversationId) ?? 0, this.deps.ip);
          this.stats.historyPages++;
          for (const message of page.messages) this.receive(message);
          if (!page.hasMore) break;
          attempt = 0;
        } catch (err) {
          if (err instanceof HttpError && err.status === 401) this.forceRefresh = true;
          await this.sleep(backoff(attempt++, 500, 5000));
        }
      }
    }
  }

  private receive(message: StoredMessage): void {
    this.deps.ledger.recordReception(this.deps.index, message, Date.now());
    this.tracker.observe(message.conversationId, message.seq);
  }

  /**
   * A valid access token for the next handshake or REST call: refreshed a minute before it
   * expires; a refresh token the server no longer takes (a rotation whose answer was lost
   * makes the next one a reuse) means logging in again.
   */
  private async ensureToken(gateway: number): Promise<void> {
    if (!this.forceRefresh && Date.now() < this.tokenExpiresAt - 60_000) return;
    const url = this.deps.gateways[gateway]!;
    const pair = await refreshSession(url, this.refreshToken, this.deps.ip).catch((err: unknown) => {
      if (err instanceof HttpError && err.status === 401) return login(url, this.deps.user.username, SEED_PASSWORD, this.deps.ip);
      throw err;
    });
    this.accessToken = pair.accessToken;
    this.refreshToken = pair.refreshToken;
    this.tokenExpiresAt = Date.now() + pair.expiresIn * 1000;
    this.forceRefresh = false;
    this.stats.tokenRefreshes++;
    this.deps.emit({ type: "token_refreshed", device: this.deps.index, at: Date.now() });
  }

  private later(ms: number, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  /** Resolves after `ms`, or at once when the device closes (callers check `closed`). */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.sleepers.delete(resolve);
        resolve();
      }, ms);
      this.timers.add(timer);
      this.sleepers.add(resolve);
    });
  }
}
