// CPU milliseconds per delivered message, per process kind: starts its own cluster (2 gateways,
// 1 message-service replica, against the running infrastructure), warms it up, then runs a
// steady load and reads each process's CPU time (user + system, /proc) before and after.
//
//   npm run bench:cpu [-- --rate 400 --seconds 20 --users 400]
import { parseArgs } from "node:util";
import { runLoad } from "@chat/loadtest/src/run-load.ts";
import { startCluster } from "../../../test/helpers/cluster.ts";
import { cpuDuring, infrastructureProcesses } from "./process-cpu.ts";

const { values } = parseArgs({
  options: { rate: { type: "string", default: "400" }, seconds: { type: "string", default: "20" }, users: { type: "string", default: "400" } },
});
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
  const kinds = [
    { kind: "gateways", pids: cluster.gateways.map((p) => p.child.pid!) },
    { kind: "message service", pids: cluster.messages.map((p) => p.child.pid!) },
    ...infrastructureProcesses(),
  ];
  const { result: report, cpuMs } = await cpuDuring(kinds, () => load(Number(values.rate), Number(values.seconds)));
  const delivered = report.messages.delivered;
  const gateways = cpuMs.get("gateways")!;
  const message = cpuMs.get("message service")!;
  console.log(`${delivered} delivered at ${values.rate} msg/s (ratio ${report.messages.deliveryRatio}, p50 ${report.latencyMs.p50} ms, p99 ${report.latencyMs.p99} ms)`);
  console.log(`CPU ms per delivered message: gateways ${(gateways / delivered).toFixed(3)}, message service ${(message / delivered).toFixed(3)}, together ${((gateways + message) / delivered).toFixed(3)}`);
  // The infrastructure is shared with whatever else runs on the box (an idle `npm run up` does little).
  console.log(`  infrastructure: ${[...cpuMs].filter(([k]) => k !== "gateways" && k !== "message service").map(([k, ms]) => `${k} ${(ms / delivered).toFixed(3)}`).join(", ")}`);
} finally {
  await cluster.stop();
}
