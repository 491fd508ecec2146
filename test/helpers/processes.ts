import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { waitFor } from "../../shared/src/testing/index.ts";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/** A port nobody is listening on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === "object" && addr ? addr.port : 0));
    });
  });
}

export interface ServiceProcess {
  name: string;
  child: ChildProcess;
  port: number;
  url: string;
  /** Everything the process wrote, for failure messages. */
  output(): string;
  /** Resolves with the exit code (or the signal name) once the process has ended. */
  exited: Promise<number | string>;
}

/** Starts a service entry file as its own OS process, exactly as the native stack does. */
export function spawnService(name: string, entry: string, port: number, env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, ["--import", "tsx", entry], {
    cwd: repoRoot,
    env: { ...process.env, LOG_LEVEL: "warn", HTTP_HOST: "127.0.0.1", PORT: String(port), ...env, VITEST: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  return { name, child, port, url: `http://127.0.0.1:${port}`, output: () => out, exited };
}

/** Waits until `/readyz` answers 200 (dependencies connected), or fails with the process output. */
export async function waitReady(svc: ServiceProcess, timeoutMs = 60_000): Promise<void> {
  let exitedEarly = false;
  void svc.exited.then(() => (exitedEarly = true));
  await waitFor(
    async () => {
      if (exitedEarly) throw new Error(`${svc.name} exited during start:\n${svc.output()}`);
      const res = await fetch(`${svc.url}/readyz`);
      return res.status === 200;
    },
    { timeoutMs, intervalMs: 200, what: `${svc.name} /readyz` },
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n--- ${svc.name} output ---\n${svc.output().slice(-4000)}`);
  });
}
