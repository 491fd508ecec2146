// Throughput and latency of the whole message pipeline on the running cluster (`npm run up`:
// 2 gateways, 2 message-service replicas): finds the highest rate that is sustained (every
// acked message delivered once, delivery keeping up, p99 under a second), then measures
// end-to-end latency at half that rate.
//
//   npm run bench:pipeline [-- --users 1000 --seconds 15]
import { parseArgs } from "node:util";
import { runLoad, type LoadReport } from "@chat/loadtest/src/run-load.ts";
import { clusterSecrets } from "./cluster-secrets.ts";

const { values } = parseArgs({
  options: {
    gateways: { type: "string", default: "http://127.0.0.1:3000,http://127.0.0.1:3001" },
    users: { type: "string", default: "1000" },
    seconds: { type: "string", default: "15" },
    rates: { type: "string", default: "500,1000,1500,2000,3000,4000,6000" },
  },
});
const { internalToken } = clusterSecrets();
const gateways = values.gateways.split(",");

async function at(rate: number): Promise<LoadReport> {
  return runLoad({
    gateways,
    authUrl: "http://127.0.0.1:4001",
    internalToken,
    users: Number(values.users),
    rate,
    durationMs: Number(values.seconds) * 1000,
    drainMs: 5000,
    userPrefix: "bench_",
  });
}

const sustained = (r: LoadReport) =>
  r.messages.deliveryRatio === 1 &&
  r.messages.duplicates === 0 &&
  r.messages.failedAcks === 0 &&
  r.throughput.deliveredPerSecond >= 0.95 * (r.options.rate) &&
  r.latencyMs.p99 < 1000;

let best: LoadReport | undefined;
for (const rate of values.rates.split(",").map(Number)) {
  const r = await at(rate);
  const ok = sustained(r);
  console.log(
    `rate ${rate}/s: delivered ${r.throughput.deliveredPerSecond}/s ratio ${r.messages.deliveryRatio} dup ${r.messages.duplicates} p50 ${r.latencyMs.p50} ms p99 ${r.latencyMs.p99} ms -> ${ok ? "sustained" : "NOT sustained"}`,
  );
  if (!ok) break;
  best = r;
}
if (!best) {
  console.log("no rate was sustained");
  process.exit(1);
}
const max = best.options.rate;
const half = await at(Math.round(max / 2));
console.log(`\nmax sustained: ${max} msg/s (delivered ${best.throughput.deliveredPerSecond}/s) with ${values.users} users on ${gateways.length} gateways`);
console.log(`at half (${Math.round(max / 2)} msg/s): latency p50 ${half.latencyMs.p50} ms, p95 ${half.latencyMs.p95} ms, p99 ${half.latencyMs.p99} ms, max ${half.latencyMs.max} ms`);
process.exit(0);
