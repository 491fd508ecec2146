import { autoMessageStats, planAutoMessages, queueDueAutoMessages, type AutoMessageStats } from "./automessages.ts";
import { brokerOnPort, commandLine, isAlive, pidFromFile, servicePid, signalProcess, supervised } from "./stack-control.ts";
import { parsePromText, sumOf } from "@chat/scheduler/src/ops/prom-text.ts";

/** What a fault scenario can use; built by the CLI (or a test). */
export interface FaultContext {
  /** Aborted on Ctrl-C: `sleep` rejects, so the run goes on to `heal` at once. */
  signal: AbortSignal;
  log(line: string): void;
  /** Waits, or rejects when `signal` aborts (unless `abortable` is false: healing waits run to the end). */
  sleep(ms: number, options?: { abortable?: boolean }): Promise<void>;
  /** Runs a command from the repo root in its own process group (a Ctrl-C does not cut it short); throws unless it exits 0. */
  exec(args: string[], timeoutMs: number): Promise<void>;
  /** Polls `<url>/readyz` until 200; false after the timeout. Not abortable. */
  waitReady(url: string, timeoutMs: number): Promise<boolean>;
  /** Pids this run has SIGSTOPped: the CLI sends them SIGCONT on exit, whatever happened. */
  stopped: Set<number>;
  /** Lines for the report's notes column. */
  notes: string[];
  /** Process URLs by name (`message-1` -> http://127.0.0.1:4002), as the CLI watches them. */
  processes: Record<string, string>;
  schedulerUrl: string;
  adminToken?: string;
}

/** One fault: injected after the warm-up, left for `holdMs`, then healed. */
export interface FaultScenario {
  name: string;
  description: string;
  /** How long the fault stays before `heal`. @default 0 */
  holdMs?: number;
  /** During the warm-up, before the fault. */
  prepare?(ctx: FaultContext): Promise<void>;
  inject(ctx: FaultContext): Promise<void>;
  /** Undoes the fault. Idempotent: also runs after a failed `inject` and on Ctrl-C. */
  heal(ctx: FaultContext): Promise<void>;
  /** After the drain: extra figures, into `ctx.notes`. */
  verify?(ctx: FaultContext): Promise<void>;
}

const STACK = ["bash", "infra/native/stack.sh"];
const BROKERS = ["--brokers", "3"];
/** The broker the broker scenarios pick on (the second of three). */
const VICTIM_BROKER_PORT = 29092;

function victimBroker(): { name: string; pid: number } {
  return componentProcess(brokerOnPort(VICTIM_BROKER_PORT) ?? "kafka-3b-2", "java", `is the stack up with --brokers 3 (port ${VICTIM_BROKER_PORT})?`);
}

/** A service's Node process, checked to be one before it is signalled. */
async function serviceProcess(name: string): Promise<{ name: string; pid: number }> {
  const pid = await servicePid(name);
  if (pid === undefined) throw new Error(`${name} is not running`);
  if (!commandLine(pid).includes("node")) throw new Error(`pid ${pid} of ${name} is not a Node process: not signalling it`);
  return { name, pid };
}

async function killService(ctx: FaultContext, name: string): Promise<void> {
  const { pid } = await serviceProcess(name);
  ctx.log(`SIGKILL ${name} (pid ${pid})`);
  process.kill(pid, "SIGKILL");
}

/** supervisord restarts a killed service; without it (a stack started before supervisord), `up.sh` does. */
async function serviceBack(ctx: FaultContext, name: string): Promise<void> {
  const url = ctx.processes[name];
  if (!url) throw new Error(`no URL known for ${name}`);
  if (await ctx.waitReady(url, supervised() ? 90_000 : 15_000)) return;
  if (!supervised()) {
    ctx.log(`${name}: no supervisord to restart it; running scripts/up.sh`);
    await ctx.exec(["bash", "scripts/up.sh", ...BROKERS], 300_000);
  }
  if (!(await ctx.waitReady(url, 60_000))) throw new Error(`${name} did not come back`);
}

/** `stack.sh down C`, a pause, `stack.sh up C`. */
function restartComponent(component: string, description: string, downMs: number): FaultScenario {
  return {
    name: `${component}-restart`,
    description,
    holdMs: downMs,
    async inject(ctx) {
      ctx.log(`stack.sh down ${component}`);
      await ctx.exec([...STACK, "down", component], 120_000);
    },
    async heal(ctx) {
      ctx.log(`stack.sh up ${component}`);
      await ctx.exec([...STACK, "up", ...BROKERS, component], 240_000);
    },
  };
}

function brokerKill(): FaultScenario {
  let killed = false;
  return {
    name: "broker-kill",
    description: `SIGKILL the Kafka broker on ${VICTIM_BROKER_PORT} (1 of 3), keep it down 30 s, start it again`,
    holdMs: 30_000,
    async inject(ctx) {
      const { name, pid } = victimBroker();
      ctx.log(`SIGKILL ${name} (pid ${pid})`);
      killed = true;
      signalProcess(pid, "SIGKILL");
    },
    async heal(ctx) {
      // Only after a kill: `up --brokers 3` on a 1-broker stack would replace its Kafka.
      if (!killed) return;
      ctx.log("stack.sh up kafka (starts the missing broker)");
      await ctx.exec([...STACK, "up", ...BROKERS, "kafka"], 300_000);
      killed = false;
    },
  };
}

/** A component's process, checked to be what it should be before it is signalled. */
function componentProcess(name: string, program: string, hint = "is the stack up?"): { name: string; pid: number } {
  const pid = pidFromFile(name);
  if (pid === undefined) throw new Error(`${name} is not running: ${hint}`);
  if (!commandLine(pid).includes(program)) throw new Error(`pid ${pid} of ${name} is not ${program}: not signalling it`);
  return { name, pid };
}

/** SIGSTOP, `holdMs`, SIGCONT: a process that hangs (a long GC, a frozen VM) instead of dying. */
function processStop(scenario: string, description: string, holdMs: number, victim: () => { name: string; pid: number } | Promise<{ name: string; pid: number }>): FaultScenario {
  let stopped: number | undefined;
  return {
    name: scenario,
    description,
    holdMs,
    async inject(ctx) {
      const { name, pid } = await victim();
      ctx.log(`SIGSTOP ${name} (pid ${pid})`);
      // Recorded first: whatever happens next, the CLI's exit handler sends SIGCONT.
      ctx.stopped.add(pid);
      stopped = pid;
      signalProcess(pid, "SIGSTOP");
    },
    async heal(ctx) {
      if (stopped === undefined) return;
      ctx.log(`SIGCONT pid ${stopped}`);
      if (isAlive(stopped)) signalProcess(stopped, "SIGCONT");
      ctx.stopped.delete(stopped);
      stopped = undefined;
    },
  };
}

function serviceKill(name: string, description: string): FaultScenario {
  return {
    name: `${name.replace(/-\d+$/, "")}-kill`,
    description,
    async inject(ctx) {
      await killService(ctx, name);
    },
    async heal(ctx) {
      await serviceBack(ctx, name);
    },
  };
}

/**
 * `base` (a fault of RabbitMQ) while planned AutoMessages fall due: a plan due within 30 s is made
 * during the warm-up, what is due is queued just before the fault, and after the drain the
 * scenario waits (asking for the queue job every 10 s) until every planned one is sent or
 * dead-lettered, and counts them.
 */
function whileAutoMessagesFallDue(base: FaultScenario): FaultScenario {
  let before: AutoMessageStats | undefined;
  let planned = 0;
  let healedAt = 0;
  const token = (ctx: FaultContext) => {
    if (!ctx.adminToken) throw new Error("ADMIN_API_TOKEN is not set and not in .stack/secrets/secrets.env");
    return ctx.adminToken;
  };
  return {
    ...base,
    async prepare(ctx) {
      before = await autoMessageStats(ctx.schedulerUrl, token(ctx));
      planned = await planAutoMessages(ctx.schedulerUrl, token(ctx), "30s", `chaos-${Date.now().toString(36)}`);
      ctx.log(`planned ${planned} AutoMessages due within 30 s`);
    },
    async inject(ctx) {
      // Those due so far go to RabbitMQ now: some are in its queue or in the worker's hands.
      await queueDueAutoMessages(ctx.schedulerUrl, token(ctx)).catch((err: unknown) => ctx.log(`queue: ${String(err)}`));
      await base.inject(ctx);
    },
    async heal(ctx) {
      await base.heal(ctx);
      healedAt = Date.now();
    },
    async verify(ctx) {
      if (!before) return;
      // The queue job runs every minute; asking for it sooner only shortens the wait.
      const deadline = Math.max(healedAt, Date.now()) + 90_000;
      let now = before;
      let lastQueue = 0;
      while (Date.now() < deadline) {
        if (Date.now() - lastQueue > 10_000) {
          lastQueue = Date.now();
          await queueDueAutoMessages(ctx.schedulerUrl, token(ctx)).catch(() => undefined);
        }
        now = await autoMessageStats(ctx.schedulerUrl, token(ctx)).catch(() => now);
        if (now.sent - before.sent + (now.deadLettered - before.deadLettered) >= planned) break;
        await ctx.sleep(2000, { abortable: false });
      }
      const sent = now.sent - before.sent;
      const dead = now.deadLettered - before.deadLettered;
      const unsent = Math.max(0, planned - sent - dead);
      ctx.notes.push(
        `AutoMessages planned ${planned}, sent ${sent}, dead-lettered ${dead}, unsent ${unsent}` +
          (unsent > 0 ? ` (queued ${now.queued}, waiting ${now.waiting}: claimed ones are republished after REQUEUE_AFTER)` : "") +
          (sent > planned ? " (more sent than planned: another plan was due too)" : ""),
      );
    },
  };
}

/**
 * Search hangs: chat must not notice (search is an optional dependency of the message service's
 * readiness, and its indexer a consumer group of its own), and indexing must catch up by itself.
 */
function sonicStop(): FaultScenario {
  const base = processStop(
    "sonic-stop",
    "SIGSTOP Sonic for 45 s, past a consumer's 30 s stall limit (a hung search engine: chat must not notice), then SIGCONT and check that indexing catches up",
    45_000,
    () => componentProcess("sonic", "sonic"),
  );
  let healedAt = 0;
  return {
    ...base,
    async heal(ctx) {
      await base.heal(ctx);
      healedAt = Date.now();
    },
    async verify(ctx) {
      const replicas = Object.entries(ctx.processes).filter(([name]) => name.startsWith("message-"));
      const scrape = () =>
        Promise.all(replicas.map(([, url]) => fetch(`${url}/metrics`, { signal: AbortSignal.timeout(2000) }).then((r) => r.text()).catch(() => ""))).then((pages) => pages.map(parsePromText));
      const deadline = Math.max(healedAt, Date.now()) + 90_000;
      for (;;) {
        const now = await scrape();
        const connected = now.every((m) => sumOf(m, "search_engine_connected") === 1);
        const indexerLag = now.flatMap((m) => (m.get("kafka_consumer_lag") ?? []).filter((s) => s.labels.group?.endsWith("search-indexer")));
        const lag = indexerLag.reduce((sum, s) => sum + s.value, 0);
        // Caught up only once the indexer has handled batches again (a lag figure exists).
        if (connected && indexerLag.length > 0 && lag === 0) {
          // Checked from the end of the drain on: caught up at the latest by then.
          ctx.notes.push(`search indexing connected and caught up when checked, ${((Date.now() - healedAt) / 1000).toFixed(1)} s after SIGCONT`);
          return;
        }
        if (Date.now() > deadline) {
          ctx.notes.push(`search indexing not caught up 90 s after SIGCONT: channels ${connected ? "connected" : "not all connected"}, indexer lag ${lag}`);
          return;
        }
        await ctx.sleep(1000, { abortable: false });
      }
    },
  };
}

/** The scenarios, in the order a full run goes through them (fresh state each call). */
export function faultScenarios(): FaultScenario[] {
  return [
    brokerKill(),
    processStop("broker-stop", `SIGSTOP the Kafka broker on ${VICTIM_BROKER_PORT} for 20 s (a hung broker), then SIGCONT`, 20_000, victimBroker),
    serviceKill("message-1", "SIGKILL message-1 (of 2): its partitions move to message-2; supervisord restarts it"),
    serviceKill("gateway-3000", "SIGKILL gateway-3000: its devices reconnect to gateway-3001 with resume; supervisord restarts it"),
    processStop(
      "gateway-stop",
      "SIGSTOP gateway-3000 for 20 s, past the presence TTL (gateway-3001 sweeps its devices, which stay connected to it), then SIGCONT",
      20_000,
      () => serviceProcess("gateway-3000"),
    ),
    restartComponent("redis", "stack.sh down redis (presence, sessions, rate limits), 5 s, up again", 5000),
    whileAutoMessagesFallDue(restartComponent("rabbitmq", "restart RabbitMQ while planned AutoMessages fall due (30 s window), then count them sent", 5000)),
    whileAutoMessagesFallDue(
      processStop(
        "rabbitmq-stop",
        "SIGSTOP RabbitMQ for 20 s while planned AutoMessages fall due (a hung queue broker: connections stay open, nothing answers), then SIGCONT and count them sent",
        20_000,
        () => componentProcess("rabbitmq", "rabbitmq-server"),
      ),
    ),
    restartComponent("mongo", "restart the Mongo-wire server (down, 5 s, up)", 5000),
    processStop("mongo-stop", "SIGSTOP the Mongo-wire server for 20 s (a hung store: connections stay open, nothing answers), then SIGCONT", 20_000, () =>
      componentProcess("mongo", "MongoWireServer"),
    ),
    processStop("redis-stop", "SIGSTOP Redis for 20 s (hung presence and sessions: connections stay open, nothing answers), then SIGCONT", 20_000, () =>
      componentProcess("redis", "redis-server"),
    ),
    sonicStop(),
  ];
}

/** No fault at all: what a normal run looks like (pauses, ack times), for comparison. */
export function baselineScenario(): FaultScenario {
  return { name: "baseline", description: "no fault: the same load, as a control", inject: async () => undefined, heal: async () => undefined };
}
