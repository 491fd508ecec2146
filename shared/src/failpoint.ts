/**
 * Crash-test hooks. `FAILPOINTS=name[,name]` in the environment makes `failpoint(name)`
 * kill the process on the spot (SIGKILL: no cleanup, like a power cut), so tests can
 * prove what survives a crash between two exact steps. Unset in production: a no-op.
 */
const armed = new Set((process.env.FAILPOINTS ?? "").split(",").map((s) => s.trim()).filter(Boolean));

export function failpoint(name: string): void {
  if (armed.has(name)) process.kill(process.pid, "SIGKILL");
}
