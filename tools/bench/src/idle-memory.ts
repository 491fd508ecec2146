// Memory an instance holds per idle Socket.IO connection: heap after a full GC (and RSS) before
// and after N idle sockets, for one of our gateways and for one plain relay instance, measured
// the same way. Our gateway runs in a small cluster of its own (1 gateway, 1 message replica, on
// the running infrastructure) with a preload that reports heap after GC on SIGUSR2; the relay
// runs with --expose-gc and reports it on `/memory?gc=1`. Each of our sockets is its own user.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { seedUsers } from "@chat/loadtest/src/seed-users.ts";
import { startCluster } from "../../../test/helpers/cluster.ts";
import { openIdle } from "./relay-load.ts";

export interface IdleMemory {
  sockets: number;
  heapPerConnection: number;
  rssPerConnection: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function measure(sample: () => Promise<{ heap: number; rss: number }>, open: () => Promise<() => void>, sockets: number): Promise<IdleMemory> {
  const before = await sample();
  const close = await open();
  await sleep(3000);
  const after = await sample();
  close();
  return { sockets, heapPerConnection: (after.heap - before.heap) / sockets, rssPerConnection: (after.rss - before.rss) / sockets };
}

/** One of our gateways with `sockets` idle, authenticated devices of distinct users. */
export async function gatewayIdleMemory(sockets: number): Promise<IdleMemory> {
  const hook = join(tmpdir(), "chat-heap-report.mjs");
  writeFileSync(
    hook,
    `process.on("SIGUSR2", () => { globalThis.gc(); globalThis.gc(); const m = process.memoryUsage(); process.stderr.write("HEAP " + m.heapUsed + " RSS " + m.rss + "\\n"); });\n`,
  );
  const cluster = await startCluster({ gateways: 1, messageReplicas: 1, env: { NODE_OPTIONS: `--expose-gc --import ${hook}` } });
  try {
    const gw = cluster.gateways[0]!;
    const tokens = (await seedUsers(cluster.auth.url, cluster.env.INTERNAL_API_TOKEN!, { prefix: "idle_", count: sockets, password: "benchmark password" })).map((u) => u.accessToken);
    const sample = async () => {
      const from = gw.output().length;
      gw.child.kill("SIGUSR2");
      await sleep(1500);
      const m = /HEAP (\d+) RSS (\d+)/.exec(gw.output().slice(from));
      if (!m) throw new Error("the gateway did not report its heap");
      return { heap: Number(m[1]), rss: Number(m[2]) };
    };
    (await openIdle(gw.url, 50, (i) => ({ token: tokens[i]! })))(); // warm-up
    return await measure(sample, () => openIdle(gw.url, sockets, (i) => ({ token: tokens[i]! })), sockets);
  } finally {
    await cluster.stop();
  }
}

/** One plain relay instance (tools/bench/src/relay-server.ts) with `sockets` idle connections. */
export async function relayIdleMemory(sockets: number, port = 5190): Promise<IdleMemory> {
  const child = spawn(process.execPath, ["--expose-gc", "--import", "tsx", "tools/bench/src/relay-server.ts", String(port)], { stdio: "ignore" });
  try {
    const url = `http://127.0.0.1:${port}`;
    const sample = async () => (await (await fetch(`${url}/memory?gc=1`)).json()) as { heap: number; rss: number };
    for (let i = 0; ; i++) {
      try {
        await sample();
        break;
      } catch (err) {
        if (i > 100) throw err;
        await sleep(100);
      }
    }
    (await openIdle(url, 50, () => undefined))();
    return await measure(sample, () => openIdle(url, sockets, () => undefined), sockets);
  } finally {
    child.kill("SIGTERM");
  }
}
