import { randomUUID } from "node:crypto";
import { RateLimitedError, ValidationError, toErrorBody, type Logger, type TokenVerifier } from "@chat/shared";
import { socketPayloadSchemas, type Ack, type ClientEventName } from "@chat/shared/contracts";
import type { ChatActions } from "../chat/chat-actions.ts";
import type { Presence } from "../presence/presence.ts";
import { acknowledged } from "./ack.ts";
import { ConnectionRefusedError, toConnectRefusal } from "./connect-error.ts";
import { DeviceSession, type ChatSession, type LocalSessions } from "./sessions.ts";
import { TokenBucket } from "./token-bucket.ts";

export interface ConnectionCoreDeps {
  logger: Logger;
  verifier: TokenVerifier;
  presence: Presence;
  actions: ChatActions;
  sessions: LocalSessions;
  /** Events per second one connection may send (bursts of twice as many). */
  eventsPerSecond: number;
  /** The user has no device left on this gateway. */
  onDisconnected: (userId: string) => void;
}

/** What a transport hands over from its handshake. */
export interface Handshake {
  token: string | undefined;
  /** The last seq seen per conversation, as the client sent it (validated here). */
  resume?: unknown;
}

export interface OpenOptions extends Handshake {
  /** Sends a server event to this device in the transport's framing. */
  emit: ChatSession["emit"];
  /**
   * Ends the transport's connection so that the device reconnects (the core calls it on drain,
   * and when the device must catch up); it need not call `close()`. `reason` is for the device.
   */
  disconnect: (reason: string) => void;
  /** The transport's own connection id, if it has one. */
  id?: string;
}

export type AckReply = (ack: Ack) => void;

/** One open device connection, whatever carries its frames. */
export interface Connection {
  readonly session: ChatSession;
  /** Handles a client event: parses, rate-limits, runs it, answers through `ack` (if any); settles once answered. */
  dispatch(event: string, payload: unknown, ack?: AckReply): Promise<void>;
  /** The transport's connection has ended. Idempotent. */
  close(): void;
}

/** A handshake that passed: the device is registered in the cluster; `open` makes its session. */
export interface Admission {
  readonly userId: string;
  open(options: Omit<OpenOptions, keyof Handshake>): Connection;
}

/** What a device sees when a handshake resume fails: no `details`, the same on every transport. */
function failedResume(err: unknown) {
  const { body } = toErrorBody(err);
  return { replayed: 0, truncated: [], error: { code: body.code, message: body.message } };
}

/**
 * The transport-independent part of a client connection: token check and presence in the
 * handshake, the device session, the handshake resume, the per-connection rate limit,
 * dispatch of events to the chat actions with their acks, and the disconnect. A transport
 * (Socket.IO, /ws, gRPC) only turns its frames into `open` / `dispatch` / `close` calls.
 */
export function createConnectionCore(deps: ConnectionCoreDeps) {
  const { actions, presence, sessions } = deps;
  const log = deps.logger.child({ component: "connection" });
  const live = new Set<DeviceConnection>();
  const pendingUnregistrations = new Set<Promise<void>>();

  // Built once per event name, not per connection: a connected device costs a few closures less.
  const handlers = new Map<string, (payload: unknown, ack: unknown, device: DeviceConnection) => Promise<void>>(
    (Object.keys(socketPayloadSchemas) as ClientEventName[]).map((name) => [
      name,
      acknowledged(socketPayloadSchemas[name], log, (payload: unknown, { session, bucket }: DeviceConnection) => {
        if (!bucket.take()) return Promise.reject(new RateLimitedError(1, "Too many events on this connection"));
        return (actions[name] as (s: ChatSession, p: unknown) => Promise<object>)(session, payload);
      }),
    ]),
  );

  function parseResume(resume: unknown): Record<string, number> | undefined {
    if (resume === undefined) return undefined;
    const parsed = socketPayloadSchemas.resume.safeParse({ conversations: resume });
    if (!parsed.success) throw new ValidationError("Invalid resume in handshake");
    return parsed.data.conversations;
  }

  /** Checks the handshake and registers the device in the cluster; refusals are ConnectionRefusedError. */
  async function admit({ token, resume: rawResume }: Handshake): Promise<Admission> {
    let claims: Awaited<ReturnType<TokenVerifier["verify"]>>;
    let resume: Record<string, number> | undefined;
    try {
      claims = await deps.verifier.verify(token);
      resume = parseResume(rawResume);
      await presence.connected(claims.userId);
    } catch (err) {
      const refusal = toConnectRefusal(err);
      if (refusal.kind === "unavailable") log.warn({ err }, "connection refused");
      throw new ConnectionRefusedError(refusal);
    }
    return { userId: claims.userId, open: (options) => start(claims, resume, options) };
  }

  /**
   * One open device: a plain object whose methods live on its class, so an idle connection
   * costs the gateway its session, its rate bucket and little else.
   */
  class DeviceConnection implements Connection {
    readonly bucket = new TokenBucket(deps.eventsPerSecond, deps.eventsPerSecond * 2);
    private closed = false;

    constructor(
      readonly session: ChatSession,
      readonly disconnect: (reason: string) => void,
    ) {}

    async dispatch(event: string, payload: unknown, ack?: AckReply): Promise<void> {
      const handler = handlers.get(event);
      if (handler) await handler(payload, ack, this);
      else ack?.({ ok: false, error: { code: "UNKNOWN_EVENT", message: `Unknown event: ${event}` } });
    }

    close(): void {
      if (this.closed) return;
      this.closed = true;
      live.delete(this);
      const { session } = this;
      sessions.remove(session);
      if ([...sessions.ofUser(session.userId)].length === 0) deps.onDisconnected(session.userId);
      const pending = presence.disconnected(session.userId).catch((err: unknown) => log.warn({ err }, "unregister failed"));
      pendingUnregistrations.add(pending);
      void pending.finally(() => pendingUnregistrations.delete(pending));
    }
  }

  function start(claims: { userId: string; username: string }, resume: Record<string, number> | undefined, options: Omit<OpenOptions, keyof Handshake>): Connection {
    const session = new DeviceSession(options.id ?? randomUUID(), claims.userId, claims.username, options.emit, resume);
    sessions.add(session);
    const connection = new DeviceConnection(session, options.disconnect);
    live.add(connection);
    if (resume) {
      void actions
        .resume(session, { conversations: resume })
        .then((result) => session.emit("resumed", result))
        .catch((err: unknown) => session.emit("resumed", failedResume(err)));
    }
    return connection;
  }

  function endAll(reason: string): number {
    const all = [...live];
    for (const connection of all) {
      connection.disconnect(reason);
      connection.close();
    }
    return all.length;
  }

  return {
    admit,
    /** `admit` and `open` in one step, for transports whose handshake can wait for both. */
    async open(options: OpenOptions): Promise<Connection> {
      const admission = await admit(options);
      return admission.open(options);
    },
    /** Ends every connection (devices reconnect to another replica) and waits for their unregistration. */
    async drain(): Promise<void> {
      endAll("gateway shutting down");
      await Promise.allSettled([...pendingUnregistrations]);
    },
    /**
     * Ends every connection so that each device reconnects, here or elsewhere, and catches up
     * with `resume`: for when the registry lost this gateway's connections for a while and
     * what was sent to them meanwhile went to no gateway. Returns how many were ended.
     */
    reconnectAll(): number {
      return endAll("reconnect and resume: this gateway's connections were missing from the registry");
    },
    /** Open connections on this gateway. */
    get size(): number {
      return live.size;
    },
  };
}

export type ConnectionCore = ReturnType<typeof createConnectionCore>;
