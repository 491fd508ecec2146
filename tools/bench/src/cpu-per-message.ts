// CPU milliseconds per delivered message, per process kind. By default it starts its own
// cluster against the running infrastructure (2 gateways, --replicas message-service replicas,
// topics of --partitions partitions); with --stack it measures the running `npm run up` stack
// instead (2 gateways, 2 message replicas, 12 partitions, search indexing: what `npm run bench`
// measures). It warms up, then runs a steady load and reads each process's CPU time (user +
// system, /proc) before and after.
//
//   npm run bench:cpu [-- --rate 400 --seconds 20 --users 400 --replicas 1 --partitions 4] [-- --stack] [-- --profile DIR]
//
// --profile DIR (own cluster only): each gateway and message-service process samples itself
// with the inspector's profiler during the measured run only and writes
// DIR/<service>-<pid>.cpuprofile (Chrome DevTools opens it; `npm run -s bench:profile -- FILE`
// prints where the time went).
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { runLoad } from "@chat/loadtest/src/run-load.ts";
import { startCluster, type TestCluster } from "../../../test/helpers/cluster.ts";
import { waitFor } from "../../../shared/src/testing/index.ts";
import { clusterSecrets } from "./cluster-secrets.ts";
import { cpuWhileSending, infrastructureProcesses, stackServices, type ProcessKind } from "./process-cpu.ts";

const { values } = parseArgs({
  options: {
    rate: { type: "string", default: "400" },
    seconds: { type: "string", default: "20" },
    users: { type: "string", default: "400" },
    replicas: { type: "string", default: "1" },
    partitions: { type: "string", default: "4" },
    stack: { type: "boolean", default: false },
    profile: { type: "string" },
  },
});
if (values.stack && values.profile) throw new Error("--profile needs the benchmark's own cluster (leave out --stack)");
if (!/^[1-9]\d*$/.test(values.replicas) || !/^[1-9]\d*$/.test(values.partitions)) throw new Error("--replicas and --partitions are positive integers");

/**
 * An --import hook for the cluster's processes: SIGUSR2 starts the inspector's sampling profiler,
 * the next SIGUSR2 writes what it sampled to `<dir>/<service>-<pid>.cpuprofile`.
 */
function profilerHook(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const hook = join(tmpdir(), "chat-cpu-profiler.mjs");
  writeFileSync(
    hook,
    `import { Session } from "node:inspector";
import { writeFileSync } from "node:fs";
const service = (process.argv[1] ?? "").match(/services\\/([^/]+)\\//)?.[1] ?? "process";
const session = new Session();
session.connect();
let running = false;
process.on("SIGUSR2", () => {
  if (!running) {
    running = true;
    session.post("Profiler.enable", () => session.post("Profiler.start"));
    return;
  }
  running = false;
  session.post("Profiler.stop", (err, result) => {
    if (!err) writeFileSync(${JSON.stringify(dir)} + "/" + service + "-" + process.pid + ".cpuprofile", JSON.stringify(result.profile));
    process.stderr.write("PROFILE " + (err ? "failed" : "written") + "\\n");
  });
});
`,
  );
  return hook;
}

interface Target {
  gateways: string[];
  authUrl: string;
  internalToken: string;
  kinds: ProcessKind[];
  /** Starts the profilers, or stops them and waits until each has written its file. */
  toggleProfilers(stop: boolean): Promise<void>;
  stop(): Promise<void>;
}

async function ownCluster(profileDir: string | undefined): Promise<Target> {
  const cluster: TestCluster = await startCluster({
    gateways: 2,
    messageReplicas: Number(values.replicas),
    env: { KAFKA_PARTITIONS: values.partitions, ...(profileDir ? { NODE_OPTIONS: `--import ${profilerHook(profileDir)}` } : {}) },
  });
  const profiled = profileDir ? [...cluster.gateways, ...cluster.messages] : [];
  return {
    gateways: cluster.gateways.map((g) => g.url),
    authUrl: cluster.auth.url,
    internalToken: cluster.env.INTERNAL_API_TOKEN!,
    kinds: [
      { kind: "gateways", pids: cluster.gateways.map((p) => p.child.pid!) },
      { kind: "message service", pids: cluster.messages.map((p) => p.child.pid!) },
      ...infrastructureProcesses(),
    ],
    async toggleProfilers(stop) {
      const marks = profiled.map((p) => p.output().length);
      for (const p of profiled) p.child.kill("SIGUSR2");
      if (stop) await Promise.all(profiled.map((p, i) => waitFor(() => p.output().slice(marks[i]).includes("PROFILE"), { timeoutMs: 30_000, what: `${p.name}'s profile` })));
    },
    stop: () => cluster.stop(),
  };
}

async function runningStack(): Promise<Target> {
  const kinds = await stackServices(2);
  return {
    gateways: ["http://127.0.0.1:3000", "http://127.0.0.1:3001"],
    authUrl: "http://127.0.0.1:4001",
    internalToken: clusterSecrets().internalToken,
    kinds,
    toggleProfilers: async () => undefined,
    stop: async () => undefined,
  };
}

const target = values.stack ? await runningStack() : await ownCluster(values.profile ? resolve(values.profile) : undefined);
try {
  const load = (rate: number, seconds: number, onSending?: (event: "start" | "end") => void) =>
    runLoad({
      gateways: target.gateways,
      authUrl: target.authUrl,
      internalToken: target.internalToken,
      users: Number(values.users),
      rate,
      durationMs: seconds * 1000,
      drainMs: 5000,
      userPrefix: "cpu_",
      onSending,
    });
  await load(Number(values.rate) / 2, 5); // JIT and caches warm
  await target.toggleProfilers(false);
  const { result: report, cpuMs } = await cpuWhileSending(target.kinds, (onSending) => load(Number(values.rate), Number(values.seconds), onSending));
  await target.toggleProfilers(true);
  const delivered = report.messages.delivered;
  const gateways = cpuMs.get("gateways")!;
  const message = cpuMs.get("message service")!;
  console.log(`${delivered} delivered at ${values.rate} msg/s (ratio ${report.messages.deliveryRatio}, p50 ${report.latencyMs.p50} ms, p99 ${report.latencyMs.p99} ms)`);
  console.log(`CPU ms per delivered message: gateways ${(gateways / delivered).toFixed(3)}, message service ${(message / delivered).toFixed(3)}, together ${((gateways + message) / delivered).toFixed(3)}`);
  // The infrastructure is shared with whatever else runs on the box (an idle `npm run up` does little).
  console.log(`  others: ${[...cpuMs].filter(([k]) => k !== "gateways" && k !== "message service").map(([k, ms]) => `${k} ${(ms / delivered).toFixed(3)}`).join(", ")}`);
} finally {
  await target.stop();
}
