import { execFileSync, spawn } from "node:child_process";
import { join } from "node:path";
import { waitFor } from "../../shared/src/testing/index.ts";
import { repoRoot } from "./processes.ts";

/** A Mongo-wire server a test started itself, on its own port and file. */
export interface MongoWireProcess {
  url: string;
  /** What it printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM (the server closes its file cleanly), and waits until it has exited. */
  stop(): Promise<void>;
}

let classpath: string | undefined;

/**
 * Starts the stack's Mongo-wire launcher (built on first use, then cached) on `port` with its
 * data in `file`, and resolves once it listens; rejects with its output if it exits first.
 */
export async function startMongoWire({ port, file, env = {} }: { port: number; file: string; env?: Record<string, string> }): Promise<MongoWireProcess> {
  classpath ??= execFileSync("bash", [join(repoRoot, "infra/native/stack.sh"), "mongo-classpath"], { encoding: "utf8" }).trim();
  const child = spawn("java", ["-Xmx512m", "-cp", classpath, "MongoWireServer", "127.0.0.1", String(port), file], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += String(d)));
  child.stderr.on("data", (d: Buffer) => (output += String(d)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await waitFor(() => output.includes("mongo-wire ready") || child.exitCode !== null, { timeoutMs: 60_000, what: "mongo-wire launcher" });
  if (child.exitCode !== null) throw new Error(`launcher exited: ${output}`);
  return {
    url: `mongodb://127.0.0.1:${port}`,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}
