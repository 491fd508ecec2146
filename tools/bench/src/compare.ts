// Our cluster against what a team would otherwise deploy — a plain Socket.IO relay with
// @socket.io/redis-adapter (no persistence) — at 1 and 2 instances, on this machine, in one go:
// max sustained delivered messages/s, latency at a common rate, and memory per idle connection.
//
//   npm run bench        (starts the native cluster itself; takes about 10 minutes)
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { runLoad, type LoadReport } from "@chat/loadtest/src/run-load.ts";
import { clusterSecrets } from "./cluster-secrets.ts";
import { openIdle, runRelayLoad, type RelayLoadResult } from "./relay-load.ts";

const USERS = 400;
const SECONDS = 10;
const IDLE = 5000;
const OURS = [150, 300, 450, 600, 900];
const RELAY = [500, 1000, 2000, 4000, 8000];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Point {
  rate: number;
  delivered: number;
  ratio: number;
  p50: number;
  p99: number;
}
const fromOurs = (r: LoadReport): Point => ({ rate: r.options.rate, delivered: r.throughput.deliveredPerSecond, ratio: r.messages.deliveryRatio, p50: r.latencyMs.p50, p99: r.latencyMs.p99 });
const fromRelay = (r: RelayLoadResult): Point => ({ rate: r.rate, delivered: r.deliveredPerSecond, ratio: r.deliveryRatio, p50: r.latencyMs.p50, p99: r.latencyMs.p99 });
// Sustained: everything delivered, delivery keeping up with the rate, p99 under a second.
const sustained = (p: Point) => p.ratio === 1 && p.delivered >= 0.95 * p.rate && p.p99 < 1000;

async function ladder(name: string, rates: number[], run: (rate: number) => Promise<Point>): Promise<Point | undefined> {
  let best: Point | undefined;
  for (const rate of rates) {
    const p = await run(rate);
    console.log(`  ${name} @ ${rate}/s: delivered ${p.delivered}/s ratio ${p.ratio} p50 ${p.p50} ms p99 ${p.p99} ms ${sustained(p) ? "" : "(not sustained)"}`);
    if (!sustained(p)) break;
    best = p;
  }
  return best;
}

function up(gateways: number): void {
  execFileSync("bash", ["scripts/up.sh", "--gateways", String(gateways)], { stdio: ["ignore", "ignore", "inherit"] });
}

async function gatewayRss(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/^process_resident_memory_bytes\{[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0);
}

const relays: ChildProcess[] = [];
async function startRelay(port: number): Promise<void> {
  const child = spawn(process.execPath, ["--import", "tsx", "tools/bench/src/relay-server.ts", String(port)], { stdio: "ignore" });
  relays.push(child);
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`http://127.0.0.1:${port}/memory`);
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`relay on ${port} did not start`);
}

try {
  const ourLoad = (gateways: string[]) => async (rate: number) =>
    fromOurs(
      await runLoad({ gateways, authUrl: "http://127.0.0.1:4001", internalToken: clusterSecrets().internalToken, users: USERS, rate, durationMs: SECONDS * 1000, drainMs: 5000, userPrefix: "cmp_" }),
    );

  console.log("our cluster, 1 gateway");
  up(1);
  const ours1 = await ladder("ours x1", OURS, ourLoad(["http://127.0.0.1:3000"]));
  console.log("our cluster, 2 gateways");
  up(2);
  const ours2 = await ladder("ours x2", OURS, ourLoad(["http://127.0.0.1:3000", "http://127.0.0.1:3001"]));

  await startRelay(5100);
  await startRelay(5101);
  console.log("plain relay, 1 instance");
  const relay1 = await ladder("relay x1", RELAY, async (rate) => fromRelay(await runRelayLoad(["http://127.0.0.1:5100"], USERS, rate, SECONDS * 1000)));
  console.log("plain relay, 2 instances");
  const relay2 = await ladder("relay x2", RELAY, async (rate) => fromRelay(await runRelayLoad(["http://127.0.0.1:5100", "http://127.0.0.1:5101"], USERS, rate, SECONDS * 1000)));

  const common = Math.max(50, Math.floor(Math.min(ours2?.rate ?? 150, relay2?.rate ?? 150) / 2));
  console.log(`latency at a common ${common} msg/s, 2 instances each`);
  const oursAt = await ourLoad(["http://127.0.0.1:3000", "http://127.0.0.1:3001"])(common);
  const relayAt = fromRelay(await runRelayLoad(["http://127.0.0.1:5100", "http://127.0.0.1:5101"], USERS, common, SECONDS * 1000));

  console.log(`memory at ${IDLE} idle sockets on one instance`);
  const seeded: Array<{ accessToken: string }> = [];
  for (let from = 0; from < IDLE; from += 5000) {
    const res = await fetch("http://127.0.0.1:4001/internal/users/seed", {
      method: "POST",
      headers: { "content-type": "application/json", "x-internal-token": clusterSecrets().internalToken },
      body: JSON.stringify({ prefix: "idle_", from, count: Math.min(5000, IDLE - from), password: "benchmark password" }),
    });
    seeded.push(...((await res.json()) as { users: Array<{ accessToken: string }> }).users);
  }
  const gwBefore = await gatewayRss(3000);
  const closeGw = await openIdle("http://127.0.0.1:3000", IDLE, (i) => ({ token: seeded[i]!.accessToken }));
  await sleep(3000);
  const gwPerConn = (await gatewayRss(3000)) - gwBefore;
  closeGw();
  const relayRss = async () => ((await (await fetch("http://127.0.0.1:5100/memory")).json()) as { rss: number }).rss;
  const relayBefore = await relayRss();
  const closeRelay = await openIdle("http://127.0.0.1:5100", IDLE, () => undefined);
  await sleep(3000);
  const relayPerConn = (await relayRss()) - relayBefore;
  closeRelay();

  const kb = (bytes: number) => (bytes / IDLE / 1024).toFixed(1);
  const ratio = (a?: number, b?: number) => (a && b ? (a / b).toFixed(2) : "n/a");
  console.log("\n| measure | our cluster | plain relay | ours / relay |");
  console.log("|---|---|---|---|");
  console.log(`| max sustained delivered msg/s, 1 instance | ${ours1?.delivered ?? "none"} | ${relay1?.delivered ?? "none"} | ${ratio(ours1?.delivered, relay1?.delivered)} |`);
  console.log(`| max sustained delivered msg/s, 2 instances | ${ours2?.delivered ?? "none"} | ${relay2?.delivered ?? "none"} | ${ratio(ours2?.delivered, relay2?.delivered)} |`);
  console.log(`| p50 latency at ${common} msg/s (2 instances) | ${oursAt.p50} ms | ${relayAt.p50} ms | ${ratio(oursAt.p50, relayAt.p50)} |`);
  console.log(`| p99 latency at ${common} msg/s (2 instances) | ${oursAt.p99} ms | ${relayAt.p99} ms | ${ratio(oursAt.p99, relayAt.p99)} |`);
  console.log(`| memory per idle connection (${IDLE} sockets) | ${kb(gwPerConn)} KiB | ${kb(relayPerConn)} KiB | ${ratio(gwPerConn, relayPerConn)} |`);
  console.log(`| connections on one instance | ${IDLE} | ${IDLE} | |`);
} finally {
  for (const r of relays) r.kill("SIGTERM");
}
process.exit(0);
