// Login latency (median of 100 sequential logins) and registration throughput, through a
// gateway of the running cluster. Each request carries its own X-Forwarded-For so the per-IP
// rate limit (meant for clients, not for this) does not stop it.
//
//   npm run bench:auth
import { randomBytes } from "node:crypto";
import { percentile } from "@chat/loadtest/src/stats.ts";

const gateway = process.argv[2] ?? "http://127.0.0.1:3000";
const ip = () => `10.${randomBytes(1)[0]}.${randomBytes(1)[0]}.${randomBytes(1)[0]}`;
const post = (path: string, body: unknown) =>
  fetch(`${gateway}${path}`, { method: "POST", headers: { "content-type": "application/json", "x-forwarded-for": ip() }, body: JSON.stringify(body) });

const tag = Date.now().toString(36);
const password = "benchmark password";
const REGISTRATIONS = 200;
const CONCURRENCY = 8;
let next = 0;
const regStarted = performance.now();
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    while (next < REGISTRATIONS) {
      const i = next++;
      const res = await post("/api/auth/register", { username: `b${tag}_${i}`, email: `b${tag}_${i}@bench.invalid`, password });
      if (res.status !== 201) throw new Error(`register: ${res.status} ${await res.text()}`);
    }
  }),
);
const regSeconds = (performance.now() - regStarted) / 1000;

const times: number[] = [];
for (let i = 0; i < 100; i++) {
  const t = performance.now();
  const res = await post("/api/auth/login", { login: `b${tag}_${i % REGISTRATIONS}`, password });
  if (res.status !== 200) throw new Error(`login: ${res.status}`);
  await res.arrayBuffer();
  times.push(performance.now() - t);
}
times.sort((a, b) => a - b);
console.log(`registration: ${REGISTRATIONS} in ${regSeconds.toFixed(1)} s = ${(REGISTRATIONS / regSeconds).toFixed(1)}/s (concurrency ${CONCURRENCY})`);
console.log(`login latency over 100: median ${percentile(times, 50).toFixed(1)} ms, p95 ${percentile(times, 95).toFixed(1)} ms`);
