import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { z, type Ack } from "@chat/shared/contracts";
import type { Connection, Handshake } from "../connection/connection-core.ts";
import { refusalOf } from "../connection/connect-error.ts";
import type { TransportDeps } from "./transport-deps.ts";

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
/** The token and resume are checked by the connection core, like every transport's handshake. */
const authFrameSchema = z.object({ token: z.unknown().optional(), resume: z.unknown().optional() }).optional();

/**
 * A plain WebSocket at `/ws` for clients without Socket.IO (the original Go servers spoke
 * this): JSON frames `{ type, data, ack? }`, the same events and acknowledgements as
 * Socket.IO (`{ type: "ack", ack, data: { ok, ... } }`), JWT in `?token=` or in a first
 * frame `{ type: "auth", data: { token, resume? } }`, pings every 30 s, dropped after 60 s of
 * silence, frames over the size limit closed with 1009.
 */
export function attachPlainWebSocket({ server, logger, core, maxPayloadBytes }: TransportDeps) {
  const log = logger.child({ component: "ws" });
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxPayloadBytes });

  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (new URL(req.url ?? "/", "http://x").pathname !== WS_PATH) return;
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, req));
  });

  function send(ws: WebSocket, frame: unknown): void {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
  }

  function accept(ws: WebSocket, req: IncomingMessage): void {
    let alive = Date.now();
    ws.on("pong", () => (alive = Date.now()));
    const heartbeat = setInterval(() => {
      if (Date.now() - alive > READ_DEADLINE_MS) ws.terminate();
      else ws.ping();
    }, PING_MS);

    const urlToken = new URL(req.url ?? "/", "http://x").searchParams.get("token") ?? undefined;
    let connection: Connection | undefined;
    let refused = false;
    const refuse = (code: string, message: string) => {
      refused = true;
      send(ws, { type: "error", data: { code, message } });
      ws.close(4401, code);
    };

    const open = async (handshake: Handshake): Promise<boolean> => {
      try {
        connection = await core.open({
          ...handshake,
          emit: (event, payload) => send(ws, { type: event, data: payload }),
          disconnect: (reason) => ws.close(1001, reason),
        });
        // The socket may have gone while the handshake ran.
        if (ws.readyState !== ws.OPEN) connection.close();
        else send(ws, { type: "ready", data: { userId: connection.session.userId } });
        return true;
      } catch (err) {
        const { code, message } = refusalOf(err);
        refuse(code, message);
        return false;
      }
    };

    let authTimer: NodeJS.Timeout | undefined;
    // Frames are handled strictly one after another, and only after a token from the URL has
    // been checked: a client may send right after `open`.
    let inbox: Promise<unknown> = Promise.resolve();
    if (urlToken !== undefined) inbox = open({ token: urlToken });
    else authTimer = setTimeout(() => refuse("TOKEN_MISSING", "Authenticate with ?token= or a first frame { type: \"auth\", data: { token } }"), AUTH_DEADLINE_MS);

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

      if (!connection) {
        if (frame.type !== "auth") {
          refuse("TOKEN_MISSING", "The first frame must be { type: \"auth\", data: { token } }");
          return;
        }
        clearTimeout(authTimer);
        const auth = authFrameSchema.parse(typeof frame.data === "object" && frame.data !== null ? frame.data : undefined);
        const token = typeof auth?.token === "string" && auth.token.length > 0 ? auth.token : undefined;
        if (await open({ token, resume: auth?.resume })) reply({ ok: true });
        return;
      }
      // Not awaited inside: a slow send must not hold up the next frame (the session keeps send order).
      void connection.dispatch(frame.type, frame.data, reply);
    }

    ws.on("close", () => {
      clearInterval(heartbeat);
      clearTimeout(authTimer);
      connection?.close();
    });
    ws.on("error", (err) => log.debug({ err }, "websocket error"));
  }

  return {
    /** Closes the sockets still in their handshake (the core drains the open ones). */
    close(): void {
      for (const ws of wss.clients) ws.close(1001, "gateway shutting down");
    },
  };
}
