import { appendFileSync, existsSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startChaosLoad, type ChaosLoad } from "./chaos-load.ts";
import { baselineScenario, faultScenarios, type FaultContext, type FaultScenario } from "./faults.ts";
import { isLoopback } from "@chat/loadtest/src/loopback.ts";
import { describeNotReady, readinessWatcher, type ReadinessRecord } from "./readiness.ts";
import { TABLE_HEADER, formatRow, recoverySeconds, rowFailed, type ScenarioRow } from "./report-table.ts";
import { isAlive, runCommand, secret, signalProcess, stackDir } from "./stack-control.ts";

const USAGE = `usage: npm run chaos -- [options]

Brings the native stack up with 3 Kafka brokers (scripts/up.sh --brokers 3), then runs each fault
scenario under a fresh steady load: warm-up, fault, recovery, stop sending, drain, report.
Destructive: it kills and stops parts of the local stack (and restores them, also on Ctrl-C).

  --list                 list the scenarios and exit
  --only <a,b>           run only these scenarios (also: baseline, a run without a fault)
  --rate <n>             messages per second, all pairs together (default 200)
  --pairs <n>            direct conversations, each between two users on different gateways (default 40)
  --warmup <s>           seconds of load before the fault (default 10)
  --steady <s>           seconds of load once everything is ready again (default 10)
  --drain <s>            at most this long for deliveries after sending stops (default 60)
  --out <file>           Markdown table the rows are appended to (default .stack/chaos/report.md)
  --gateways <urls>      gateway URLs (default http://127.0.0.1:3000,http://127.0.0.1:3001)
  --no-up                do not run scripts/up.sh first (the stack must already run with 3 brokers)
  --max-minutes <n>      stop starting scenarios after this long (default 15)
Exit code 1 if a row has lost > 0 or duplicates shown > 0, or a scenario could not run.`;

/** The cluster's processes and their URLs (for /readyz), by name. */
function processUrls(gateways: string[]): Record<string, string> {
  return {
    ...Object.fromEntries(gateways.map((url) => [`gateway-${new URL(url).port}`, url])),
    auth: "http://127.0.0.1:4001",
    "message-1": "http://127.0.0.1:4002",
    "message-2": "http://127.0.0.1:4012",
    scheduler: "http://127.0.0.1:4003",
    worker: "http://127.0.0.1:4004",
  };
}

interface RunSettings {
  rate: number;
  pairs: number;
  warmupMs: number;
  steadyMs: number;
  drainMs: number;
  gateways: string[];
  internalToken: string;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolvePromise, reject) => {
    if (signal?.aborted) return reject(new Error("interrupted"));
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolvePromise();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Error("interrupted"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });

async function waitReady(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(new URL("/readyz", url), { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return true;
    } catch {
      // not answering yet
    }
    if (Date.now() > deadline) return false;
    await sleep(250);
  }
}

const clock = () => new Date().toISOString().slice(11, 19);
const log = (line: string) => process.stderr.write(`[${clock()}] ${line}\n`);

async function runScenario(scenario: FaultScenario, settings: RunSettings, ctx: FaultContext): Promise<ScenarioRow> {
  const names = Object.keys(ctx.processes);
  const nameOf = Object.fromEntries(Object.entries(ctx.processes).map(([name, url]) => [url, name]));
  const notReadyOf = (records: Record<string, ReadinessRecord>) =>
    Object.values(records)
      .filter((r) => r.flipped)
      .map((r) => describeNotReady(nameOf[r.url] ?? r.url, r));
  const row: ScenarioRow = { scenario: scenario.name, notReady: [], drained: false, notes: ctx.notes };

  const notReadyBefore = (await Promise.all(names.map(async (n) => ((await waitReady(ctx.processes[n]!, 120_000)) ? undefined : n)))).filter(Boolean);
  if (notReadyBefore.length > 0) return { ...row, error: `not ready before the fault: ${notReadyBefore.join(", ")}` };

  const watcher = readinessWatcher(Object.values(ctx.processes));
  let load: ChaosLoad | undefined;
  let injected = false;
  let healed = false;
  let injectAt = 0;
  const progress = setInterval(() => {
    if (!load) return;
    const s = load.snapshot();
    process.stderr.write(
      `[${clock()}]   ${scenario.name}: acked ${s.acknowledged} delivered ${s.delivered} pending ${s.pendingAcks} undelivered ${s.undelivered} ` +
        `connected ${s.connected}/${s.devices} resuming ${s.resuming} failures ${s.ackFailures}\n`,
    );
  }, 5000);
  try {
    load = await startChaosLoad({
      gateways: settings.gateways,
      authUrl: ctx.processes.auth!,
      internalToken: settings.internalToken,
      pairs: settings.pairs,
      rate: settings.rate,
    });
    log(`${scenario.name}: load running (${settings.pairs} pairs, ${settings.rate} msg/s)`);
    const warmupEnd = load.startedAt + settings.warmupMs;
    await scenario.prepare?.(ctx);
    await ctx.sleep(Math.max(0, warmupEnd - Date.now()));

    injectAt = Date.now();
    injected = true;
    log(`${scenario.name}: injecting — ${scenario.description}`);
    await scenario.inject(ctx);
    if (scenario.holdMs) await ctx.sleep(scenario.holdMs);
    log(`${scenario.name}: healing`);
    await scenario.heal(ctx);
    healed = true;

    const readyBy = Date.now() + 120_000;
    while (!watcher.allReady() && Date.now() < readyBy) await ctx.sleep(250);
    if (!watcher.allReady()) row.notes.push("not every /readyz was 200 within 120 s of healing");
    await ctx.sleep(settings.steadyMs);

    load.stopSending();
    log(`${scenario.name}: sending stopped, draining`);
    const drain = await load.drain({ timeoutMs: settings.drainMs });
    row.drained = drain.drained;
    if (!drain.drained) row.notes.push(`after ${Math.round(drain.waitedMs / 1000)} s: ${drain.pendingAcks} never acknowledged, ${drain.undelivered} acknowledged and undelivered`);
    await scenario.verify?.(ctx);

    const readiness = watcher.stop();
    row.report = load.report();
    row.notReady = notReadyOf(readiness);
    row.recoverySeconds = recoverySeconds(injectAt, readiness, load.lastLateDelivery(injectAt, 2000));
    const s = load.snapshot();
    if (row.report.otherMessages > 0) row.notes.push(`devices also received ${row.report.otherMessages} messages not from the load (AutoMessages)`);
    if (s.misrouted > 0) row.notes.push(`${s.misrouted} messages reached a user outside the conversation`);
    if (s.disconnects > 0) row.notes.push(`${s.disconnects} disconnects, ${s.resumesOk} resumes (${s.replayed} replayed), ${s.resumeFailures} resume failures`);
    if (row.report.lostSamples.length > 0) row.notes.push(`lost e.g. ${row.report.lostSamples.slice(0, 3).map((l) => `${l.clientMsgId}/${l.messageId}`).join(", ")}`);
    return row;
  } catch (err) {
    row.error = err instanceof Error ? err.message : String(err);
    if (load) {
      // Messages acknowledged a moment ago are not lost: give them a short while to arrive.
      const drain = await load.drain({ timeoutMs: 5000 });
      row.drained = drain.drained;
      row.report = load.report();
    }
    row.notReady = notReadyOf(watcher.current());
    return row;
  } finally {
    clearInterval(progress);
    if (injected && !healed) {
      log(`${scenario.name}: restoring after ${row.error ?? "an interruption"}`);
      await scenario.heal(ctx).catch((err: unknown) => {
        row.notes.push(`HEAL FAILED: ${err instanceof Error ? err.message : String(err)}`);
        log(`${scenario.name}: heal failed: ${String(err)}`);
      });
    }
    watcher.stop();
    await load?.close();
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      list: { type: "boolean" },
      only: { type: "string" },
      rate: { type: "string", default: "200" },
      pairs: { type: "string", default: "40" },
      warmup: { type: "string", default: "10" },
      steady: { type: "string", default: "10" },
      drain: { type: "string", default: "60" },
      out: { type: "string" },
      gateways: { type: "string", default: "http://127.0.0.1:3000,http://127.0.0.1:3001" },
      "no-up": { type: "boolean" },
      "max-minutes": { type: "string", default: "15" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const all = [...faultScenarios(), baselineScenario()];
  if (values.list) {
    for (const s of all) console.log(`${s.name.padEnd(18)} ${s.description}`);
    return 0;
  }
  let scenarios = faultScenarios();
  if (values.only) {
    const wanted = values.only.split(",").map((s) => s.trim()).filter(Boolean);
    const unknown = wanted.filter((w) => !all.some((s) => s.name === w));
    if (unknown.length > 0) {
      console.error(`unknown scenario(s): ${unknown.join(", ")} (see --list)`);
      return 2;
    }
    scenarios = wanted.map((w) => all.find((s) => s.name === w)!);
  }
  const gateways = values.gateways.split(",").map((s) => s.trim()).filter(Boolean);
  const numbers = { rate: Number(values.rate), pairs: Number(values.pairs), warmup: Number(values.warmup), steady: Number(values.steady), drain: Number(values.drain), maxMinutes: Number(values["max-minutes"]) };
  const problems = [
    ...gateways.filter((g) => !isLoopback(g)).map((g) => `${g}: only loopback targets are allowed`),
    ...Object.entries(numbers).filter(([, v]) => !(Number.isFinite(v) && v >= 0)).map(([k]) => `--${k} must be a number >= 0`),
    ...(numbers.warmup > 120 || numbers.steady > 120 || numbers.drain > 300 || numbers.maxMinutes > 60 ? ["--warmup/--steady at most 120 s, --drain 300 s, --max-minutes 60"] : []),
  ];
  if (problems.length > 0) {
    console.error(problems.join("\n"));
    return 2;
  }

  if (!values["no-up"]) {
    log("bringing the stack up: bash scripts/up.sh --brokers 3");
    const up = await runCommand("bash", ["scripts/up.sh", "--brokers", "3"], { timeoutMs: 15 * 60_000, log: "inherit" });
    if (up.code !== 0) {
      console.error(`scripts/up.sh failed (exit ${up.code})`);
      return 2;
    }
  }
  const internalToken = secret("INTERNAL_API_TOKEN");
  if (!internalToken) {
    console.error("INTERNAL_API_TOKEN is not set and .stack/secrets/secrets.env does not exist (run npm run up)");
    return 2;
  }

  const abort = new AbortController();
  const stopped = new Set<number>();
  // Whatever ends this process: no broker stays frozen.
  process.on("exit", () => {
    for (const pid of stopped) if (isAlive(pid)) signalProcess(pid, "SIGCONT");
  });
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts === 1) {
      log(`${signal}: stopping after restoring what this scenario broke (again to force, which may leave it broken)`);
      abort.abort();
    } else process.exit(130);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // A bug in a callback must not skip the restore: note it, stop, heal on the way out.
  process.on("uncaughtException", (err) => {
    log(`unexpected error: ${err.stack ?? err.message}`);
    abort.abort();
  });

  const out = resolve(values.out ?? join(stackDir(), "chaos", "report.md"));
  const commandLog = join(stackDir(), "chaos", "commands.log");
  mkdirSync(dirname(out), { recursive: true });
  if (!existsSync(out)) appendFileSync(out, "# npm run chaos\n\nOne table per run; see `npm run chaos -- --help`.\n");
  appendFileSync(
    out,
    `\n## ${new Date().toISOString()}: ${numbers.rate} msg/s, ${numbers.pairs} pairs over ${gateways.length} gateways\n\n` +
      `Recovery: from the fault until every /readyz is 200 again and no delivery takes over 2 s. Longest pause: between consecutive deliveries, cluster-wide. /readyz not 200: each process's answers other than 200 (a status, or "timeout": no answer within 1 s).\n\n` +
      `${TABLE_HEADER.join("\n")}\n`,
  );
  console.log(TABLE_HEADER.join("\n"));

  const settings: RunSettings = {
    rate: numbers.rate,
    pairs: numbers.pairs,
    warmupMs: numbers.warmup * 1000,
    steadyMs: numbers.steady * 1000,
    drainMs: numbers.drain * 1000,
    gateways,
    internalToken,
  };
  const deadline = Date.now() + numbers.maxMinutes * 60_000;
  let failed = false;
  for (const scenario of scenarios) {
    if (abort.signal.aborted) break;
    let row: ScenarioRow;
    if (Date.now() > deadline) row = { scenario: scenario.name, notReady: [], drained: false, notes: [], error: `skipped: over --max-minutes ${numbers.maxMinutes}` };
    else {
      const ctx: FaultContext = {
        signal: abort.signal,
        log: (line) => log(`  ${line}`),
        sleep: (ms, options) => sleep(ms, options?.abortable === false ? undefined : abort.signal),
        exec: async (args, timeoutMs) => {
          const result = await runCommand(args[0]!, args.slice(1), { timeoutMs, detached: true, log: commandLog });
          if (result.code !== 0) throw new Error(`${args.join(" ")} exited ${result.code}: ${result.output.trim().split("\n").slice(-3).join(" / ")}`);
        },
        waitReady,
        stopped,
        notes: [],
        processes: processUrls(gateways),
        schedulerUrl: "http://127.0.0.1:4003",
        adminToken: secret("ADMIN_API_TOKEN"),
      };
      log(`scenario ${scenario.name}`);
      row = await runScenario(scenario, settings, ctx);
    }
    failed ||= rowFailed(row);
    const line = formatRow(row);
    console.log(line);
    appendFileSync(out, `${line}\n`);
  }
  log(`report appended to ${out}`);
  return failed || abort.signal.aborted ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
