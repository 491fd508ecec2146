import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { renderHtmlReport } from "./report-html.ts";
import { assertLoopback } from "./loopback.ts";
import { watchReadiness, type ReadinessFigures, type ReadinessWatch } from "./readiness-watch.ts";
import { runLoad, type LoadReport } from "./run-load.ts";

const USAGE = `usage: npm run loadtest -- [options]

  --gateways <urls>     comma-separated gateway URLs (default http://127.0.0.1:3000,http://127.0.0.1:3001)
  --users <n>           users = connections, an even number (default 200)
  --rate <n>            messages per second in total (default 200)
  --duration <s>        seconds of sending (default 10)
  --drain <s>           seconds to wait for deliveries afterwards (default 10)
  --prefix <p>          seeded usernames are <p><n>; the same prefix reuses them (default lt_)
  --auth-url <url>      internal auth URL for bulk seeding (default http://127.0.0.1:4001)
  --watch-readyz <urls> comma-separated process URLs whose /readyz is asked every 200 ms while
                        messages are sent (answer times, answers other than 200)
  --json <file>         write the report as JSON
  --html <file>         write a self-contained HTML report with charts
Needs INTERNAL_API_TOKEN (or .stack/secrets/secrets.env from npm run up). Loopback targets only.`;

function internalToken(): string | undefined {
  if (process.env.INTERNAL_API_TOKEN) return process.env.INTERNAL_API_TOKEN;
  const file = ".stack/secrets/secrets.env";
  if (!existsSync(file)) return undefined;
  return /^INTERNAL_API_TOKEN=(.+)$/m.exec(readFileSync(file, "utf8"))?.[1]?.trim();
}

export function printSummary(r: LoadReport): void {
  const c = r.connections;
  const m = r.messages;
  const l = r.latencyMs;
  console.log(`connections  ok ${c.ok}  failed ${c.failed}  connect ms avg ${c.connectMs.avg} min ${c.connectMs.min} max ${c.connectMs.max} p95 ${c.connectMs.p95}`);
  console.log(`messages     sent ${m.sent}  acked ${m.acked}  delivered ${m.delivered}  ratio ${m.deliveryRatio}  duplicates ${m.duplicates}`);
  console.log(`latency ms   p50 ${l.p50}  p95 ${l.p95}  p99 ${l.p99}  max ${l.max}`);
  console.log(`throughput   sent ${r.throughput.sentPerSecond}/s  delivered ${r.throughput.deliveredPerSecond}/s`);
  console.log(`errors       ${Object.keys(r.errors).length ? JSON.stringify(r.errors) : "none"}`);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      gateways: { type: "string", default: "http://127.0.0.1:3000,http://127.0.0.1:3001" },
      users: { type: "string", default: "200" },
      rate: { type: "string", default: "200" },
      duration: { type: "string", default: "10" },
      drain: { type: "string", default: "10" },
      prefix: { type: "string", default: "lt_" },
      "auth-url": { type: "string", default: "http://127.0.0.1:4001" },
      "watch-readyz": { type: "string" },
      json: { type: "string" },
      html: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const token = internalToken();
  if (!token) {
    console.error("INTERNAL_API_TOKEN is not set and .stack/secrets/secrets.env does not exist (run npm run up)");
    return 2;
  }
  const watched = (values["watch-readyz"] ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  try {
    watched.forEach(assertLoopback);
  } catch (err) {
    console.error(`--watch-readyz: ${(err as Error).message}`);
    return 2;
  }
  let watch: ReadinessWatch | undefined;
  let readiness: Promise<ReadinessFigures[]> | undefined;
  const report = await runLoad(
    {
      gateways: values.gateways.split(",").map((s) => s.trim()).filter(Boolean),
      authUrl: values["auth-url"],
      internalToken: token,
      users: Number(values.users),
      rate: Number(values.rate),
      durationMs: Number(values.duration) * 1000,
      drainMs: Number(values.drain) * 1000,
      userPrefix: values.prefix,
      onSending: (event) => {
        if (watched.length === 0) return;
        if (event === "start") watch = watchReadiness(watched);
        else readiness = watch?.stop();
      },
    },
    (p) => {
      process.stderr.write(`\r[${p.elapsedS}s] ${p.phase.padEnd(10)} conn ${p.connected} ok / ${p.failed} failed | sent ${p.sent} acked ${p.acked} delivered ${p.delivered}   `);
    },
  );
  process.stderr.write("\n");
  printSummary(report);
  const readyz = (await readiness) ?? [];
  for (const r of readyz) {
    const l = r.latencyMs;
    const bad = Object.entries(r.notReady).map(([k, n]) => `${k} x${n}`).join(", ") || "none";
    console.log(`readyz       ${r.url}  asked ${l.count}  ms p50 ${l.p50}  p99 ${l.p99}  max ${l.max}  not 200: ${bad}`);
  }
  if (values.json) writeFileSync(values.json, JSON.stringify(readyz.length > 0 ? { ...report, readiness: readyz } : report, null, 2));
  if (values.html) writeFileSync(values.html, renderHtmlReport(report));
  return report.messages.deliveryRatio === 1 && report.messages.duplicates === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
