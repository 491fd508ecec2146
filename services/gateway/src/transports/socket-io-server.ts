import { Server, type Socket } from "socket.io";
import type { ClientToServerEvents, ServerToClientEvents } from "@chat/shared/contracts";
import type { Admission } from "../connection/connection-core.ts";
import { refusalOf } from "../connection/connect-error.ts";
import type { ChatSession } from "../connection/sessions.ts";
import type { TransportDeps } from "./transport-deps.ts";

interface SocketData {
  /** The handshake passed: the connection opens on `connection`. */
  admission: Admission;
}

type ChatSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

/**
 * Socket.IO on the gateway: WebSocket transport only (no sticky sessions needed behind a
 * load balancer), the handshake admitted by the connection core (so the device is registered
 * in the cluster before its `connect` reaches the client), every event handed to the core.
 */
export function attachSocketIo({ server, core, maxPayloadBytes }: TransportDeps) {
  const io = new Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>(server, {
    transports: ["websocket"],
    maxHttpBufferSize: maxPayloadBytes,
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
    const auth = socket.handshake.auth as { token?: unknown; resume?: unknown } | undefined;
    const fromQuery = socket.handshake.query.token;
    const token = typeof auth?.token === "string" ? auth.token : typeof fromQuery === "string" ? fromQuery : undefined;
    const resume = auth?.resume;
    // Nothing reads the handshake after this: keep neither the token nor the headers per socket.
    socket.handshake.auth = {};
    socket.handshake.headers = {};
    try {
      socket.data.admission = await core.admit({ token, resume });
      next();
    } catch (err) {
      const { code, message } = refusalOf(err);
      next(Object.assign(new Error(message), { data: { code } }));
    }
  });

  io.on("connection", (socket: ChatSocket) => {
    const connection = socket.data.admission.open({
      id: socket.id,
      emit: socket.emit.bind(socket) as ChatSession["emit"],
      // Socket.IO carries no reason (the reason argument lands after `true`, unused): the client sees "io server disconnect".
      disconnect: socket.disconnect.bind(socket, true),
    });
    // The admission (its claims and resume) is spent: nothing per socket keeps it.
    delete (socket.data as Partial<SocketData>).admission;
    // One listener per socket for every event: the core's handlers are shared.
    socket.onAny((event: string, ...args: unknown[]) => {
      const last = args.at(-1);
      const ack = typeof last === "function" ? (last as Parameters<typeof connection.dispatch>[2]) : undefined;
      void connection.dispatch(event, args[0] === last && ack ? undefined : args[0], ack);
    });
    socket.on("disconnect", () => connection.close());
  });

  return { io };
}
