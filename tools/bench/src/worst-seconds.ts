// What a load's slow seconds coincide with: a steady load on the running stack (`npm run up`),
// and for every second of it the delivery p50/p99, each process kind's CPU, and the busiest
// threads of the infrastructure's processes (Kafka, the store, Sonic: JIT compilers, GC, their
// background writers), read from /proc.
//
//   npm run bench:seconds [-- --rate 500 --seconds 60 --users 400 --slow 250 --json FILE]
//
// Prints one row per second (seconds with a p99 above --slow ms marked *), then the run's
// figures and the busiest threads over the slow seconds and over the others.
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { runLoad } from "@chat/loadtest/src/run-load.ts";
import { clusterSecrets } from "./cluster-secrets.ts";
import { cpuSample, stackProcesses, threadCpuMs, type ProcessKind } from "./process-cpu.ts";

const { values } = parseArgs({
  options: {
    rate: { type: "string", default: "500" },
    seconds: { type: "string", default: "60" },
    users: { type: "string", default: "400" },
    slow: { type: "string", default: "250" },
    json: { type: "string" },
  },
});
const slowMs = Number(values.slow);

const SHORT: Record<string, string> = {
  gateways: "gw",
  "message service": "msg",
  auth: "auth",
  "scheduler + worker": "sched",
  kafka: "kafka",
  "store (Mongo-wire)": "store",
  redis: "redis",
  "search engine (Sonic)": "sonic",
  "load generator": "load",
};
const kinds: ProcessKind[] = await stackProcesses(2);
const infrastructure = kinds.filter((k) => k.kind === "kafka" || k.kind.startsWith("store") || k.kind.startsWith("search"));

interface Sample {
  at: number;
  /** CPU ms so far by process kind. */
  kinds: Map<string, number>;
  /** CPU ms so far by "<kind>: <thread name>". */
  threads: Map<string, number>;
}
function sample(): Sample {
  const threads = new Map<string, number>();
  for (const k of infrastructure) {
    for (const pid of k.pids) {
      for (const [name, ms] of threadCpuMs(pid)) {
        const key = `${SHORT[k.kind]}: ${name}`;
        threads.set(key, (threads.get(key) ?? 0) + ms);
      }
    }
  }
  return { at: Date.now(), kinds: cpuSample(kinds), threads };
}

const samples: Sample[] = [sample()];
const timer = setInterval(() => samples.push(sample()), 1000);
const report = await runLoad({
  gateways: ["http://127.0.0.1:3000", "http://127.0.0.1:3001"],
  authUrl: "http://127.0.0.1:4001",
  internalToken: clusterSecrets().internalToken,
  users: Number(values.users),
  rate: Number(values.rate),
  durationMs: Number(values.seconds) * 1000,
  drainMs: 5000,
  userPrefix: "sec_",
}).finally(() => clearInterval(timer));

const started = Date.parse(report.startedAt);
const diff = (a: Map<string, number>, b: Map<string, number>) => new Map([...b].map(([k, v]) => [k, v - (a.get(k) ?? 0)]));
const rows = samples.slice(1).map((b, i) => {
  const a = samples[i]!;
  // The load's second that most of this sample's interval falls in.
  const second = Math.floor((b.at - 500 - started) / 1000);
  const point = report.timeline.find((p) => p.second === second);
  return { second, point, kinds: diff(a.kinds, b.kinds), threads: diff(a.threads, b.threads) };
});
const measured = rows.filter((r) => r.point && r.point.delivered > 0);
const busiest = (threads: Map<string, number>, n: number) =>
  [...threads]
    .filter(([, ms]) => ms >= 50)
    .sort((x, y) => y[1] - x[1])
    .slice(0, n);

console.log(["second", "p50", "p99", "delivered", ...kinds.map((k) => SHORT[k.kind] ?? k.kind), "busiest infrastructure threads (CPU ms)"].join("\t"));
for (const r of measured) {
  const p = r.point!;
  const mark = p.p99 > slowMs ? "*" : "";
  const threads = busiest(r.threads, 3).map(([name, ms]) => `${name} ${Math.round(ms)}`);
  console.log([`${r.second}${mark}`, p.p50, p.p99, p.delivered, ...kinds.map((k) => Math.round(r.kinds.get(k.kind)!)), threads.join(", ")].join("\t"));
}

const mean = (rs: typeof measured, pick: (r: (typeof measured)[number]) => Map<string, number>) => {
  const sum = new Map<string, number>();
  for (const r of rs) for (const [k, v] of pick(r)) sum.set(k, (sum.get(k) ?? 0) + v / rs.length);
  return sum;
};
const slow = measured.filter((r) => r.point!.p99 > slowMs);
const rest = measured.filter((r) => r.point!.p99 <= slowMs);
const line = (m: Map<string, number>) => [...m].map(([k, v]) => `${SHORT[k] ?? k} ${Math.round(v)}`).join(", ");
const { latencyMs: l, messages: m } = report;
console.log(`\n${m.delivered} of ${m.acked} acked delivered at ${values.rate} msg/s; p50 ${l.p50} ms, p95 ${l.p95} ms, p99 ${l.p99} ms, max ${l.max} ms`);
console.log(`seconds with p99 > ${slowMs} ms: ${slow.length} of ${measured.length}`);
for (const [what, rs] of [
  ["slow seconds", slow],
  ["other seconds", rest],
] as const) {
  if (rs.length === 0) continue;
  console.log(`${what}, CPU ms a second: ${line(mean(rs, (r) => r.kinds))}`);
  console.log(`  busiest infrastructure threads: ${busiest(mean(rs, (r) => r.threads), 6).map(([k, v]) => `${k} ${Math.round(v)}`).join(", ")}`);
}
if (values.json) {
  const plain = (mm: Map<string, number>) => Object.fromEntries([...mm].map(([k, v]) => [k, Math.round(v)]));
  writeFileSync(values.json, JSON.stringify({ options: values, latencyMs: l, messages: m, seconds: measured.map((r) => ({ ...r.point, cpuMs: plain(r.kinds), threadsMs: plain(r.threads) })) }, null, 1));
}
