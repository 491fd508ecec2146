// Heap a gateway holds per idle Socket.IO connection: starts its own small cluster (1 gateway,
// against the running infrastructure), opens N idle sockets, and compares the gateway's heap
// after a full GC before and after them (the gateway reports it on SIGUSR2 through a preload).
//
//   npm run bench:idle-heap [-- --sockets 2000]
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { io, type Socket } from "socket.io-client";
import { registerUser } from "../../../test/helpers/api.ts";
import { startCluster } from "../../../test/helpers/cluster.ts";

const { values } = parseArgs({ options: { sockets: { type: "string", default: "2000" } } });
const N = Math.min(Number(values.sockets), 20_000);
const hook = join(tmpdir(), "chat-heap-report.mjs");
writeFileSync(
  hook,
  `process.on("SIGUSR2", () => { globalThis.gc(); globalThis.gc(); process.stderr.write("HEAP " + process.memoryUsage().heapUsed + "\\n"); });\n`,
);
const cluster = await startCluster({ gateways: 1, messageReplicas: 1, env: { NODE_OPTIONS: `--expose-gc --import ${hook}` } });
const gw = cluster.gateways[0]!;
const heap = async (): Promise<number> => {
  const from = gw.output().length;
  gw.child.kill("SIGUSR2");
  await new Promise((r) => setTimeout(r, 1500));
  return Number(/HEAP (\d+)/.exec(gw.output().slice(from))?.[1]);
};
const connect = (token: string) =>
  new Promise<Socket>((resolve, reject) => {
    const s = io(gw.url, { transports: ["websocket"], auth: { token }, forceNew: true, reconnection: false });
    s.once("connect", () => resolve(s));
    s.once("connect_error", reject);
  });
const sockets: Socket[] = [];
try {
  const users = await Promise.all(Array.from({ length: 20 }, () => registerUser(gw.url, "heap")));
  for (let i = 0; i < 50; i++) sockets.push(await connect(users[i % 20]!.accessToken)); // warm-up
  const before = await heap();
  for (let i = 0; i < N; i += 100) sockets.push(...(await Promise.all(Array.from({ length: Math.min(100, N - i) }, (_, k) => connect(users[(i + k) % 20]!.accessToken)))));
  const after = await heap();
  console.log(`gateway heap per idle Socket.IO connection: ${((after - before) / N / 1024).toFixed(1)} KB (${N} sockets)`);
} finally {
  for (const s of sockets) s.close();
  await cluster.stop();
}
