import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { randomUUID } from "node:crypto";
import { WebSocketServer, type WebSocket } from "ws";
import { RateLimitedError, UnauthorizedError, toErrorBody } from "@chat/shared";
import { socketPayloadSchemas, z, type Ack, type ClientEventName } from "@chat/shared/contracts";
import { acknowledged } from "./ack.ts";
import type { TransportDeps } from "./transport-deps.ts";
import { DeviceSession, type ChatSession } from "./sessions.ts";
import { createTokenBucket } from "./token-bucket.ts";

export const WS_PATH = "/ws";
/** Server ping interval; a connection silent for twice as long is dropped. */
const PING_MS = 30_000;
const READ_DEADLINE_MS = 60_000;
/** A connection without a token in the URL must authenticate with its first frame within this. */
const AUTH_DEADLINE_MS = 10_000;

const frameSchema = z.object({
  type: z.string().min(1).max(64),
  data: z.unknown().optional(),
  ack: z.union([z.string().max(64), z.number().int()]).optional(),
});
const authFrameSchema = z.object({
  token: z.string().min(1),
  resume: socketPayloadSchemas.resume.shape.conversations.optional(),
});

const EVENT_NAMES = new Set(Object.keys(socketPayloadSchemas));


/**
 * A plain WebSocket at `/ws` for clients without Socket.IO (the original Go servers spoke
 * this): JSON frames `{ type, data, ack? }`, the same events and acknowledgements as
 * Socket.IO (`{ type: "ack", ack, data: { ok, ... } }`), JWT in `?token=` or in a first
 * frame `{ type: "auth", data: { token, resume? } }`, pings every 30 s, dropped after 60 s of
 * silence, frames over the size limit closed with 1009.
 */
export function attachPlainWebSocket(deps: TransportDeps) {
  const log = deps.logger.child({ component: "ws" });
  const wss = new WebSocketServer({ noServer: true, maxPayload: deps.maxPayloadBytes });
  const pending = new Set<Promise<void>>();
  const handlers = new Map(
    [...EVENT_NAMES].map((name) => [
      name,
      acknowledged(socketPayloadSchemas[name as ClientEventName], log, (payload: unknown, device: { session: ChatSession; bucket: ReturnType<typeof createTokenBucket> }) => {
        if (!device.bucket.take()) return Promise.reject(new RateLimitedError(1, "Too many events on this connection"));
        return (deps.actions[name as ClientEventName] as (s: ChatSession, p: unknown) => Promise<object>)(device.session, payload);
      }),
    ]),
  );

  deps.server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (new URL(req.url ?? "/", "http://x").pathname !== WS_PATH) return;
    wss.handleUpgrade(req, socket, head, (ws) => void accept(ws, req));
  });

  function send(ws: WebSocket, frame: unknown): void {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
  }

  async function accept(ws: WebSocket, req: IncomingMessage): Promise<void> {
    let alive = Date.now();
    ws.on("pong", () => (alive = Date.now()));
    const heartbeat = setInterval(() => {
      if (Date.now() - alive > READ_DEADLINE_MS) ws.terminate();
      else ws.ping();
    }, PING_MS);
    ws.on("close", () => clearInterval(heartbeat));

    const urlToken = new URL(req.url ?? "/", "http://x").searchParams.get("token") ?? undefined;
    let session: ChatSession | undefined;
    const bucket = createTokenBucket(deps.eventsPerSecond, deps.eventsPerSecond * 2);
    const refuse = (code: string, message: string) => {
      send(ws, { type: "error", data: { code, message } });
      ws.close(4401, code);
    };

    const open = async (token: string | undefined, resume?: Record<string, number>) => {
      const claims = await deps.verifier.verify(token);
      await deps.presence.connected(claims.userId);
      session = new DeviceSession(randomUUID(), claims.userId, claims.username, (event, payload) => send(ws, { type: event, data: payload }), resume);
      deps.sessions.add(session);
      send(ws, { type: "ready", data: { userId: claims.userId } });
      if (resume) {
        const s = session;
        void deps.actions
          .resume(s, { conversations: resume })
          .then((result) => s.emit("resumed", result))
          .catch((err: unknown) => s.emit("resumed", { replayed: 0, truncated: [], error: toErrorBody(err).body }));
      }
    };

    let authTimer: NodeJS.Timeout | undefined;
    // Frames are handled strictly one after another, and only after a token from the URL has
    // been checked: a client may send right after `open`.
    let inbox: Promise<unknown> = Promise.resolve();
    let refused = false;
    if (urlToken !== undefined) {
      inbox = open(urlToken).catch((err: unknown) => {
        refused = true;
        refuse(err instanceof UnauthorizedError ? err.code : "UNAVAILABLE", (err as Error).message);
      });
    } else {
      authTimer = setTimeout(() => refuse("TOKEN_MISSING", "Authenticate with ?token= or a first frame { type: \"auth\", data: { token } }"), AUTH_DEADLINE_MS);
    }

    ws.on("message", (raw, isBinary) => {
      alive = Date.now();
      inbox = inbox.then(() => (refused ? undefined : handleFrame(raw.toString(), isBinary)));
    });

    async function handleFrame(text: string, isBinary: boolean): Promise<void> {
      let frame: z.infer<typeof frameSchema>;
      try {
        if (isBinary) throw new Error("binary");
        const parsed = frameSchema.safeParse(JSON.parse(text));
        if (!parsed.success) throw new Error("shape");
        frame = parsed.data;
      } catch {
        send(ws, { type: "error", data: { code: "MALFORMED_FRAME", message: "Frames are JSON text: { type, data, ack? }" } });
        return;
      }
      const reply = (ack: Ack) => {
        if (frame.ack !== undefined) send(ws, { type: "ack", ack: frame.ack, data: ack });
      };

      if (!session) {
        if (frame.type !== "auth") {
          refused = true;
          refuse("TOKEN_MISSING", "The first frame must be { type: \"auth\", data: { token } }");
          return;
        }
        clearTimeout(authTimer);
        const auth = authFrameSchema.safeParse(frame.data);
        if (!auth.success) {
          refused = true;
          refuse("TOKEN_MISSING", "auth needs data.token");
          return;
        }
        try {
          await open(auth.data.token, auth.data.resume);
          reply({ ok: true });
        } catch (err) {
          refused = true;
          refuse(err instanceof UnauthorizedError ? err.code : "UNAVAILABLE", (err as Error).message);
        }
        return;
      }
      if (!EVENT_NAMES.has(frame.type)) {
        reply({ ok: false, error: { code: "UNKNOWN_EVENT", message: `Unknown event: ${frame.type}` } });
        return;
      }
      const name = frame.type as ClientEventName;
      // Not awaited: a slow send must not hold up the next frame (the session keeps send order).
      void handlers.get(name)!(frame.data, reply, { session, bucket });
    }

    ws.on("close", () => {
      clearTimeout(authTimer);
      if (!session) return;
      const s = session;
      deps.sessions.remove(s);
      if ([...deps.sessions.ofUser(s.userId)].length === 0) deps.onDisconnected(s.userId);
      const p = deps.presence.disconnected(s.userId).catch((err: unknown) => log.warn({ err }, "unregister failed"));
      pending.add(p);
      void p.finally(() => pending.delete(p));
    });
    ws.on("error", (err) => log.debug({ err }, "websocket error"));
  }

  return {
    async drain(): Promise<void> {
      for (const ws of wss.clients) ws.close(1001, "gateway shutting down");
      await new Promise((r) => setTimeout(r, 50));
      await Promise.allSettled([...pending]);
    },
  };
}

