import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Socket } from "node:net";
import { waitFor } from "../../shared/src/testing/index.ts";
import { freePort, repoRoot } from "./processes.ts";

const connects = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = new Socket();
    s.once("data", (d) => (s.destroy(), resolve(String(d).startsWith("CONNECTED"))));
    s.once("error", () => resolve(false));
    s.connect(port, "127.0.0.1");
  });

/**
 * A Sonic of a test's own (the stack's binary, its own port and data dir), for tests that stop
 * and restart the engine without touching the one every other test uses.
 */
export async function startPrivateSonic() {
  const binary = execFileSync("bash", [join(repoRoot, "infra/native/stack.sh"), "sonic-bin"], { encoding: "utf8" }).trim();
  const dir = mkdtempSync(join(tmpdir(), "chat-sonic-"));
  const port = await freePort();
  const password = "private-search";
  const config = join(dir, "sonic.cfg");
  writeFileSync(
    config,
    [
      "[server]",
      'log_level = "error"',
      "[channel]",
      `inet = "127.0.0.1:${port}"`,
      `auth_password = "${password}"`,
      "[search]",
      "query_limit_maximum = 1000",
      "[store.kv]",
      `path = "${dir}/kv/"`,
      "[store.fst]",
      `path = "${dir}/fst/"`,
      "",
    ].join("\n"),
  );
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(binary, ["-c", config], { stdio: "ignore" });
    await waitFor(() => connects(port), { timeoutMs: 30_000, what: "private Sonic" });
  };
  const kill = async () => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    const gone = new Promise((r) => c.once("exit", r));
    c.kill("SIGKILL");
    await gone;
  };
  await start();
  return { port, password, start, kill };
}
