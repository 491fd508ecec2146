// What a team would otherwise deploy: a plain Socket.IO relay scaled with
// @socket.io/redis-adapter, no persistence, no auth, no ordering beyond Socket.IO's own.
// Clients join a room; `send` is broadcast to the room's other members on every instance.
//
//   node --import tsx tools/bench/src/relay-server.ts PORT [REDIS_URL]
import { createServer } from "node:http";
import { createAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import { Server } from "socket.io";

const port = Number(process.argv[2] ?? 5100);
const redisUrl = process.argv[3] ?? "redis://127.0.0.1:6379";
const pub = new Redis(redisUrl);
const sub = pub.duplicate();
const http = createServer((req, res) => {
  if (req.url === "/memory" || req.url === "/memory?gc=1") {
    // ?gc=1 (with node --expose-gc): after a full collection, as the benchmarks compare it.
    const gc = (globalThis as { gc?: () => void }).gc;
    if (req.url.endsWith("gc=1") && gc) {
      gc();
      gc();
    }
    const m = process.memoryUsage();
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ rss: m.rss, heap: m.heapUsed, sockets: io.engine.clientsCount }));
    return;
  }
  res.statusCode = 404;
  res.end();
});
const io = new Server(http, { transports: ["websocket"], adapter: createAdapter(pub, sub, { key: "bench-relay" }) });
io.engine.on("connection", (raw: { request: unknown }) => {
  raw.request = null;
});
io.on("connection", (socket) => {
  socket.on("join", (room: string, ack?: () => void) => {
    void socket.join(room);
    ack?.();
  });
  socket.on("send", (msg: { room: string; id: string }, ack?: (r: { ok: true }) => void) => {
    socket.to(msg.room).emit("message", msg);
    ack?.({ ok: true });
  });
});
http.listen(port, "127.0.0.1", () => console.log(`relay listening on ${port}`));
process.on("SIGTERM", () => {
  io.close();
  pub.disconnect();
  sub.disconnect();
  process.exit(0);
});
