// CPU time of the native stack's processes, by kind, read from /proc (user + system): what a
// benchmark divides by the messages it delivered.
import { readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { pidFromFile, servicePid } from "@chat/chaos/src/stack-control.ts";

const CLOCK_TICKS = 100; // USER_HZ on Linux

export interface ProcessKind {
  kind: string;
  pids: number[];
}

/** CPU ms of a process (`/proc/PID`) or of one of its threads (`/proc/PID/task/TID`); 0 once it is gone. */
function cpuMsAt(dir: string): number {
  try {
    const stat = readFileSync(`${dir}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return 0; // gone: counts nothing from here on
  }
}

const cpuMs = (pid: number) => cpuMsAt(`/proc/${pid}`);

/**
 * CPU ms so far of the threads of `pid`, by thread name, a numbered pool's threads together
 * (a JVM's "C2 CompilerThread0" and "...1" as "C2 CompilerThread#"; Linux keeps 15 characters).
 */
export function threadCpuMs(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return byName; // gone
  }
  for (const tid of tids) {
    let name: string;
    try {
      name = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim().replace(/\d+$/, "#");
    } catch {
      continue;
    }
    byName.set(name, (byName.get(name) ?? 0) + cpuMsAt(`/proc/${pid}/task/${tid}`));
  }
  return byName;
}

const fromFiles = (names: string[]) => names.map((n) => pidFromFile(n)).filter((p): p is number => p !== undefined);

/** The running stack's processes (`npm run up`), grouped by what they are. */
export async function stackServices(gateways: number): Promise<ProcessKind[]> {
  const pids = async (names: string[]) => (await Promise.all(names.map((n) => servicePid(n)))).filter((p): p is number => p !== undefined);
  const [kafka, store, sonic] = infrastructureProcesses();
  return [
    { kind: "gateways", pids: await pids(Array.from({ length: gateways }, (_, i) => `gateway-${3000 + i}`)) },
    { kind: "message service", pids: await pids(["message-1", "message-2"]) },
    { kind: "auth", pids: await pids(["auth"]) },
    { kind: "scheduler + worker", pids: await pids(["scheduler", "worker"]) },
    kafka,
    store,
    { kind: "redis", pids: fromFiles(["redis"]) },
    sonic,
  ];
}

/** The running stack's processes, and this process as the load generator. */
export async function stackProcesses(gateways: number): Promise<ProcessKind[]> {
  return [...(await stackServices(gateways)), { kind: "load generator", pids: [process.pid] }];
}

/** The infrastructure's processes (Kafka, the Mongo-wire store, Sonic), as the native stack recorded them. */
export function infrastructureProcesses(): [kafka: ProcessKind, store: ProcessKind, sonic: ProcessKind] {
  return [
    { kind: "kafka", pids: fromFiles(["kafka-1b", "kafka-3b-1", "kafka-3b-2", "kafka-3b-3"]) },
    { kind: "store (Mongo-wire)", pids: fromFiles(["mongo"]) },
    { kind: "search engine (Sonic)", pids: fromFiles(["sonic"]) },
  ];
}

/** Each kind's CPU ms so far. */
export const cpuSample = (kinds: ProcessKind[]) => new Map(kinds.map((k) => [k.kind, k.pids.reduce((sum, pid) => sum + cpuMs(pid), 0)]));

/** Each kind's CPU ms between two samples. */
const cpuBetween = (kinds: ProcessKind[], before: Map<string, number>, after: Map<string, number>) => new Map(kinds.map((k) => [k.kind, after.get(k.kind)! - before.get(k.kind)!]));

/** CPU ms each kind spends while `run` runs. */
export async function cpuDuring<T>(kinds: ProcessKind[], run: () => Promise<T>): Promise<{ result: T; cpuMs: Map<string, number> }> {
  const before = cpuSample(kinds);
  const result = await run();
  return { result, cpuMs: cpuBetween(kinds, before, cpuSample(kinds)) };
}

/**
 * CPU ms each kind spends in the steady part of a load run only: from its first send until its
 * last message is delivered (the load's `onSending` events), without the logins, connections
 * and pairing before it, which cost the same however many messages follow and made the figure
 * depend on the run's length and rate.
 */
export async function cpuWhileSending<T>(kinds: ProcessKind[], run: (onSending: (event: "start" | "end") => void) => Promise<T>): Promise<{ result: T; cpuMs: Map<string, number> }> {
  let before: Map<string, number> | undefined;
  let after: Map<string, number> | undefined;
  const result = await run((event) => {
    if (event === "start") before = cpuSample(kinds);
    else after = cpuSample(kinds);
  });
  if (!before || !after) throw new Error("the load run never got through its sending phase");
  return { result, cpuMs: cpuBetween(kinds, before, after) };
}

/**
 * Waits until `kinds` together use less than `cores` cores over a second (a backlog the load
 * left behind worked off: indexing, delivery, a consumer's lag), at most `timeoutMs`.
 */
export async function untilQuiet(kinds: ProcessKind[], { cores = 0.25, timeoutMs = 120_000 } = {}): Promise<{ quiet: boolean; waitedMs: number }> {
  const started = Date.now();
  for (;;) {
    const { cpuMs } = await cpuDuring(kinds, () => sleep(1000));
    const used = [...cpuMs.values()].reduce((a, b) => a + b, 0) / 1000;
    if (used < cores) return { quiet: true, waitedMs: Date.now() - started };
    if (Date.now() - started > timeoutMs) return { quiet: false, waitedMs: Date.now() - started };
  }
}
