import { spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (tools/chaos/src/../../..). */
export const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));

/** Where the native stack keeps its state: $STACK_DIR or <repo>/.stack. */
export const stackDir = (): string => process.env.STACK_DIR ?? join(repoRoot, ".stack");

/** Fields of /proc/PID/stat after the command name: state (0), pgrp (2), start time (19). */
function procStat(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(") ") + 2).trim().split(/\s+/);
  } catch {
    return undefined;
  }
}

const bootId = (): string => {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return "unknown";
  }
};

/**
 * The pid infra/native/lib.sh recorded for NAME (`pids/NAME.pid`: "PID STARTTIME BOOT_ID"),
 * only if that very process is still alive: a pid reused by another program is not ours.
 */
export function pidFromFile(name: string): number | undefined {
  const file = join(stackDir(), "pids", `${name}.pid`);
  if (!existsSync(file)) return undefined;
  const [pidText, start, boot] = (readFileSync(file, "utf8").split("\n")[0] ?? "").trim().split(/\s+/);
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 1 || boot !== bootId()) return undefined;
  const stat = procStat(pid);
  if (!stat || stat[19] !== start || stat[0] === "Z" || stat[0] === "X") return undefined;
  return pid;
}

export interface CommandResult {
  code: number;
  output: string;
}

export interface RunOptions {
  timeoutMs: number;
  /** Its own process group, so a Ctrl-C at the terminal does not cut a repair short. @default false */
  detached?: boolean;
  /** Where the output goes besides the result: a file to append to, or "inherit" (our stderr). */
  log?: string | "inherit";
}

/** Runs a command to completion (killed after the timeout), with its output. Never rejects. */
export function runCommand(command: string, args: string[], options: RunOptions): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"], detached: options.detached ?? false });
    let output = "";
    const logFile = options.log && options.log !== "inherit" ? options.log : undefined;
    if (logFile) {
      mkdirSync(dirname(logFile), { recursive: true });
      appendFileSync(logFile, `\n=== ${new Date().toISOString()} ${command} ${args.join(" ")}\n`);
    }
    const take = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
      if (options.log === "inherit") process.stderr.write(chunk);
      else if (logFile) appendFileSync(logFile, chunk);
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    const timer = setTimeout(() => {
      output += `\n[killed after ${options.timeoutMs} ms]`;
      try {
        if (options.detached && child.pid) process.kill(-child.pid, "SIGTERM");
        else child.kill("SIGTERM");
      } catch {
        // already gone
      }
    }, options.timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      resolve({ code: 127, output: `${output}\n${err.message}` });
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), output });
    });
  });
}

export const supervisorConf = (): string => join(stackDir(), "supervisor", "supervisord.conf");

/**
 * The pid of a cluster service: supervisord's (`supervisorctl pid NAME`, also found as
 * `GROUP:NAME` in `status`), else the pid file of a service started without supervisord.
 */
export async function servicePid(name: string): Promise<number | undefined> {
  const conf = supervisorConf();
  if (existsSync(conf)) {
    const direct = await runCommand("supervisorctl", ["-c", conf, "pid", name], { timeoutMs: 10_000 });
    const pid = Number(direct.output.trim());
    if (Number.isInteger(pid) && pid > 1) return pid;
    const status = await runCommand("supervisorctl", ["-c", conf, "status"], { timeoutMs: 10_000 });
    for (const line of status.output.split("\n")) {
      const m = /^(\S+)\s+RUNNING\s+pid (\d+)/.exec(line);
      if (m && (m[1] === name || m[1]!.endsWith(`:${name}`))) return Number(m[2]);
    }
  }
  return pidFromFile(name);
}

/** Whether supervisord runs the services (and so restarts a killed one by itself). */
export const supervised = (): boolean => existsSync(join(stackDir(), "supervisor", "supervisord.pid")) && existsSync(supervisorConf());

/** The name stack.sh gives the broker listening on `port` (from its generated config). */
export function brokerOnPort(port: number): string | undefined {
  const conf = join(stackDir(), "conf");
  if (!existsSync(conf)) return undefined;
  for (const file of readdirSync(conf)) {
    if (!/^kafka-.*\.properties$/.test(file) || file.includes("log4j")) continue;
    const text = readFileSync(join(conf, file), "utf8");
    if (new RegExp(`^listeners=PLAINTEXT://[^,]*:${port}(,|$)`, "m").test(text)) return file.replace(/\.properties$/, "");
  }
  return undefined;
}

/** The command line of a process (to check what is about to be signalled). */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
  } catch {
    return "";
  }
}

/**
 * Signals a process and, when it leads its own process group (lib.sh starts each program
 * with setsid), that group: a JVM's or Erlang's helpers get the same signal.
 */
export function signalProcess(pid: number, signal: NodeJS.Signals): void {
  const leader = procStat(pid)?.[2] === String(pid);
  process.kill(leader ? -pid : pid, signal);
}

export const isAlive = (pid: number): boolean => {
  const state = procStat(pid)?.[0];
  return state !== undefined && state !== "Z" && state !== "X";
};

/** `KEY=value` lines of .stack/secrets/secrets.env (the environment wins). */
export function secret(name: string): string | undefined {
  if (process.env[name]) return process.env[name];
  const file = join(stackDir(), "secrets", "secrets.env");
  if (!existsSync(file)) return undefined;
  return new RegExp(`^${name}=(.+)$`, "m").exec(readFileSync(file, "utf8"))?.[1]?.trim().replace(/^["']|["']$/g, "");
}
