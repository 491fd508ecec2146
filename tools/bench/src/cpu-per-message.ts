// CPU milliseconds per delivered message, per process kind: starts its own cluster (2 gateways,
// 1 message-service replica, against the running infrastructure), warms it up, then runs a
// steady load and reads each process's CPU time (user + system, /proc) before and after.
//
//   npm run bench:cpu [-- --rate 400 --seconds 20 --users 400]
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { runLoad } from "@chat/loadtest/src/run-load.ts";
import { startCluster } from "../../../test/helpers/cluster.ts";

const { values } = parseArgs({
  options: { rate: { type: "string", default: "400" }, seconds: { type: "string", default: "20" }, users: { type: "string", default: "400" } },
});
const CLOCK_TICKS = 100; // USER_HZ on Linux
const cpuMs = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
};
const cluster = await startCluster({ gateways: 2, messageReplicas: 1 });
try {
  const load = (rate: number, seconds: number) =>
    runLoad({
      gateways: cluster.gateways.map((g) => g.url),
      authUrl: cluster.auth.url,
      internalToken: cluster.env.INTERNAL_API_TOKEN!,
      users: Number(values.users),
      rate,
      durationMs: seconds * 1000,
      drainMs: 5000,
      userPrefix: "cpu_",
    });
  await load(Number(values.rate) / 2, 5); // JIT and caches warm
  const procs = [...cluster.gateways, ...cluster.messages];
  const before = procs.map((p) => cpuMs(p.child.pid!));
  const report = await load(Number(values.rate), Number(values.seconds));
  const spent = procs.map((p, i) => cpuMs(p.child.pid!) - before[i]!);
  const delivered = report.messages.delivered;
  const gateways = spent[0]! + spent[1]!;
  const message = spent[2]!;
  console.log(`${delivered} delivered at ${values.rate} msg/s (ratio ${report.messages.deliveryRatio}, p50 ${report.latencyMs.p50} ms, p99 ${report.latencyMs.p99} ms)`);
  console.log(`CPU ms per delivered message: gateways ${(gateways / delivered).toFixed(3)}, message service ${(message / delivered).toFixed(3)}, together ${((gateways + message) / delivered).toFixed(3)}`);
} finally {
  await cluster.stop();
}
