import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Server, type Socket } from "socket.io";

interface FakeMessage {
  messageId: string;
  clientMsgId: string;
  conversationId: string;
  senderId: string;
  content: string;
  kind: "user";
  seq: number;
  sentAt: string;
  createdAt: string;
}

export interface FakeClusterOptions {
  /** The first attempt of every k-th message is stored and delivered, but its ack is never sent. */
  dropFirstAckEvery?: number;
  /** Every k-th send attempt is refused `{ ok: false }` with this code, storing nothing. */
  refuseEvery?: { every: number; code: string };
  /** Handshake resumes answer `resumed` with an error (the device must resume again by event). */
  failHandshakeResumes?: boolean;
}

export interface FakeCluster {
  gateways: string[];
  authUrl: string;
  /** Closes gateway i and every connection on it at once (nothing stored is lost). */
  crash(i: number): Promise<void>;
  stored(): number;
  stop(): Promise<void>;
}

const listen = (server: HttpServer) =>
  new Promise<string>((resolve) => server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = "";
  for await (const chunk of req) text += String(chunk);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

const json = (res: ServerResponse, status: number, payload: unknown) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(payload));
};

/**
 * In-memory stand-ins for the auth service and N gateways sharing one store: enough of the
 * public contract (seeding, direct conversations, refresh, send_message with idempotent
 * acks, message_received to every device of every participant, resume) to test the chaos
 * client's resends, reconnections and resumes without the real stack.
 */
export async function startFakeCluster(gatewayCount: number, options: FakeClusterOptions = {}): Promise<FakeCluster> {
  const users = new Map<string, string>();
  const conversations = new Map<string, { participants: string[]; messages: FakeMessage[] }>();
  const byClientId = new Map<string, FakeMessage>();
  const devices = new Map<string, Set<Socket>>();
  const attempts = new Map<string, number>();
  let sends = 0;
  let refusals = 0;

  const userOf = (token: unknown) => (typeof token === "string" && token.startsWith("tok-") && users.has(token.slice(4)) ? token.slice(4) : undefined);

  const rest = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (req.method === "POST" && url.pathname === "/internal/users/seed") {
      const { prefix, from, count } = (await body(req)) as { prefix: string; from: number; count: number };
      const seeded = Array.from({ length: count }, (_, i) => {
        const username = `${prefix}${from + i}`;
        const id = `u-${username}`;
        users.set(id, username);
        return { id, username, accessToken: `tok-${id}`, refreshToken: `ref-${id}`, expiresIn: 900 };
      });
      return json(res, 200, { users: seeded });
    }
    const userId = userOf(req.headers.authorization?.replace(/^Bearer /, ""));
    if (req.method === "POST" && url.pathname === "/api/conversations" && userId) {
      const { participantIds } = (await body(req)) as { participantIds: string[] };
      const participants = [userId, ...participantIds].sort();
      const id = `c-${participants.join("-")}`;
      if (!conversations.has(id)) conversations.set(id, { participants, messages: [] });
      return json(res, 201, { conversation: { id, lastSeq: conversations.get(id)!.messages.length } });
    }
    return json(res, 404, { error: { code: "NOT_FOUND", message: "not here" } });
  };

  const deliver = (message: FakeMessage) => {
    for (const participant of conversations.get(message.conversationId)!.participants) {
      for (const socket of devices.get(participant) ?? []) socket.emit("message_received", { message });
    }
  };

  const replay = (socket: Socket, marks: Record<string, number>) => {
    let replayed = 0;
    for (const [conversationId, after] of Object.entries(marks)) {
      for (const message of conversations.get(conversationId)?.messages.slice(after) ?? []) {
        socket.emit("message_received", { message });
        replayed++;
      }
    }
    return { replayed, truncated: [] };
  };

  const gateways: Array<{ http: HttpServer; io: Server; url: string }> = [];
  for (let i = 0; i < gatewayCount; i++) {
    const http = createServer((req, res) => void rest(req, res));
    const io = new Server(http, { transports: ["websocket"] });
    io.use((socket, next) => {
      const userId = userOf((socket.handshake.auth as { token?: unknown }).token);
      if (!userId) return next(Object.assign(new Error("bad token"), { data: { code: "TOKEN_INVALID" } }));
      socket.data.userId = userId;
      next();
    });
    io.on("connection", (socket) => {
      const userId = socket.data.userId as string;
      const mine = devices.get(userId) ?? new Set();
      devices.set(userId, mine.add(socket));
      socket.on("disconnect", () => mine.delete(socket));
      const resume = (socket.handshake.auth as { resume?: Record<string, number> }).resume;
      if (resume) {
        socket.emit("resumed", options.failHandshakeResumes ? { replayed: 0, truncated: [], error: { code: "DEPENDENCY_UNAVAILABLE", message: "try again" } } : replay(socket, resume));
      }
      socket.on("resume", ({ conversations: marks }: { conversations: Record<string, number> }, ack: (a: unknown) => void) => ack({ ok: true, ...replay(socket, marks) }));
      socket.on("send_message", (payload: { conversationId: string; content: string; clientMsgId: string }, ack: (a: unknown) => void) => {
        const key = `${userId}|${payload.clientMsgId}`;
        if (options.refuseEvery && ++refusals % options.refuseEvery.every === 0) {
          return ack({ ok: false, error: { code: options.refuseEvery.code, message: "refused" } });
        }
        let message = byClientId.get(key);
        const attempt = (attempts.get(key) ?? 0) + 1;
        attempts.set(key, attempt);
        if (!message) {
          const conversation = conversations.get(payload.conversationId)!;
          const now = new Date().toISOString();
          message = { messageId: `m-${key}`, ...payload, senderId: userId, kind: "user", seq: conversation.messages.length + 1, sentAt: now, createdAt: now };
          conversation.messages.push(message);
          byClientId.set(key, message);
          deliver(message);
        }
        sends++;
        if (options.dropFirstAckEvery && attempt === 1 && sends % options.dropFirstAckEvery === 0) return;
        ack({ ok: true, messageId: message.messageId });
      });
    });
    gateways.push({ http, io, url: await listen(http) });
  }
  const authHttp = createServer((req, res) => void rest(req, res));
  const authUrl = await listen(authHttp);

  const close = (http: HttpServer) => new Promise<void>((resolve) => http.close(() => resolve()));
  return {
    gateways: gateways.map((g) => g.url),
    authUrl,
    async crash(i) {
      const g = gateways[i]!;
      g.http.closeAllConnections();
      g.io.disconnectSockets(true);
      await Promise.all([new Promise<void>((resolve) => g.io.close(() => resolve())), close(g.http).catch(() => undefined)]);
    },
    stored: () => byClientId.size,
    async stop() {
      for (const g of gateways) g.io.close();
      await Promise.all([...gateways.map((g) => close(g.http).catch(() => undefined)), close(authHttp)]);
    },
  };
}
