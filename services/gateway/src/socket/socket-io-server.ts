import { Server, type Socket } from "socket.io";
import { RateLimitedError, UnauthorizedError, ValidationError, toErrorBody } from "@chat/shared";
import { socketPayloadSchemas, type ClientEventName, type ClientToServerEvents, type ServerToClientEvents } from "@chat/shared/contracts";
import { acknowledged } from "./ack.ts";
import type { TransportDeps } from "./transport-deps.ts";
import { DeviceSession, type ChatSession } from "./sessions.ts";
import { createTokenBucket } from "./token-bucket.ts";

interface SocketData {
  userId: string;
  username: string;
  /** Resume asked for in the handshake: replayed before any live message is shown. */
  resume?: Record<string, number>;
}

/** What differs per connected device when a shared event handler runs. */
interface Device {
  session: ChatSession;
  bucket: ReturnType<typeof createTokenBucket>;
}

type ChatSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;


const EVENT_NAMES = Object.keys(socketPayloadSchemas) as ClientEventName[];

/**
 * Socket.IO on the gateway: WebSocket transport only (no sticky sessions needed behind a
 * load balancer), JWT checked in the handshake, the device registered in the cluster
 * before its `connect` reaches the client, every event parsed and acknowledged.
 */
export function attachSocketIo(deps: TransportDeps) {
  const { logger, verifier, presence, actions, sessions } = deps;
  const log = logger.child({ component: "socket.io" });
  const io = new Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>(deps.server, {
    transports: ["websocket"],
    maxHttpBufferSize: deps.maxPayloadBytes,
    serveClient: false,
    // Other upgrade paths (the plain WebSocket at /ws) are not Socket.IO's to close.
    destroyUpgrade: false,
    cors: { origin: true },
  });
  // Nothing needs the upgrade request after the handshake; dropping it saves memory per socket.
  io.engine.on("connection", (raw: { request: unknown }) => {
    raw.request = null;
  });

  io.use(async (socket, next) => {
    try {
      const fromAuth = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
      const fromQuery = socket.handshake.query.token;
      const token = typeof fromAuth === "string" ? fromAuth : typeof fromQuery === "string" ? fromQuery : undefined;
      const claims = await verifier.verify(token);
      const resume = (socket.handshake.auth as { resume?: unknown } | undefined)?.resume;
      if (resume !== undefined) {
        const parsed = socketPayloadSchemas.resume.safeParse({ conversations: resume });
        if (!parsed.success) throw new ValidationError("Invalid resume in handshake");
        socket.data.resume = parsed.data.conversations;
      }
      socket.data.userId = claims.userId;
      socket.data.username = claims.username;
      // Nothing reads the handshake after this: keep neither the token nor the headers per socket.
      socket.handshake.auth = {};
      socket.handshake.headers = {};
      await presence.connected(claims.userId);
      next();
    } catch (err) {
      const e = new Error(err instanceof UnauthorizedError || err instanceof ValidationError ? err.message : "Connection refused") as Error & { data?: unknown };
      e.data = { code: err instanceof UnauthorizedError || err instanceof ValidationError ? err.code : "UNAVAILABLE" };
      next(e);
    }
  });

  const pendingUnregistrations = new Set<Promise<void>>();
  const handlers = new Map(
    EVENT_NAMES.map((name) => [
      name as string,
      acknowledged(socketPayloadSchemas[name], log, (payload: unknown, { session, bucket }: Device) => {
        if (!bucket.take()) return Promise.reject(new RateLimitedError(1, "Too many events on this connection"));
        return (actions[name] as (s: ChatSession, p: unknown) => Promise<object>)(session, payload);
      }),
    ]),
  );

  io.on("connection", (socket: ChatSocket) => {
    const session = new DeviceSession(socket.id, socket.data.userId, socket.data.username, socket.emit.bind(socket) as ChatSession["emit"], socket.data.resume);
    sessions.add(session);
    const resume = socket.data.resume;
    if (resume) {
      void actions
        .resume(session, { conversations: resume })
        .then((result) => session.emit("resumed", result))
        .catch((err: unknown) => {
          const { body } = toErrorBody(err);
          session.emit("resumed", { replayed: 0, truncated: [], error: { code: body.code, message: body.message } });
        });
    }
    const device: Device = { session, bucket: createTokenBucket(deps.eventsPerSecond, deps.eventsPerSecond * 2) };
    // One listener per socket for every event (handlers are shared): a connected device costs
    // a few closures fewer than with one `socket.on` per event name.
    socket.onAny((event: string, ...args: unknown[]) => {
      const handler = handlers.get(event);
      if (handler) {
        void handler(args[0], args[1], device);
        return;
      }
      const ack = args[args.length - 1];
      if (typeof ack === "function") ack({ ok: false, error: { code: "UNKNOWN_EVENT", message: `Unknown event: ${event}` } });
    });

    socket.on("disconnect", () => {
      sessions.remove(session);
      if ([...sessions.ofUser(session.userId)].length === 0) deps.onDisconnected(session.userId);
      const pending = presence.disconnected(session.userId).catch((err: unknown) => log.warn({ err }, "unregister failed"));
      pendingUnregistrations.add(pending);
      void pending.finally(() => pendingUnregistrations.delete(pending));
    });
  });

  return {
    io,
    /** Disconnects every device (they reconnect to another replica) and waits for their unregistration. */
    async drain(): Promise<void> {
      io.disconnectSockets(true);
      await Promise.allSettled([...pendingUnregistrations]);
    },
  };
}
