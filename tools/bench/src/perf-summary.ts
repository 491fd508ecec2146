// Where real CPU time went, from `perf script` output of Node processes started with
// --perf-basic-prof (so JIT-compiled functions have names): per process, the share of the main
// thread and of V8's background threads (JIT compilation, GC), and the main thread's samples by
// the first library (or our own file) found walking up the stack from the leaf.
//
//   NODE_OPTIONS=--perf-basic-prof npm run bench:cpu -- --rate 1000 --seconds 70 &
//   perf record -e cpu-clock -F 999 -a -g -o perf.data -- sleep 15      # during the steady run
//   perf script -i perf.data -F pid,tid,ip,sym | npm run -s bench:perf -- PID [PID...]
//
// Unlike the inspector's profiler (wall-clock samples), perf's cpu-clock counts only time on a
// CPU, so a process waiting in a syscall or preempted by another is not charged for it.
import { createInterface } from "node:readline";
import { dependencyOf } from "./package-of.ts";

const pids = new Set(process.argv.slice(2));
if (pids.size === 0) throw new Error("usage: perf script -F pid,tid,ip,sym | npm run -s bench:perf -- PID [PID...]");

interface Sample {
  pid: string;
  tid: string;
  frames: string[];
}
const samples: Sample[] = [];
let current: Sample | undefined;
for await (const line of createInterface({ input: process.stdin })) {
  const head = /^\s*(\d+)\/(\d+)\s*$/.exec(line);
  if (head) {
    current = pids.has(head[1]!) ? { pid: head[1]!, tid: head[2]!, frames: [] } : undefined;
    if (current) samples.push(current);
  } else if (current && line.trim()) current.frames.push(line.trim().split(/\s+/).slice(1).join(" "));
}

const library = (frame: string) => {
  const dep = dependencyOf(frame);
  if (dep) return dep;
  const own = /\/((services|shared|tools)\/[^:]+)/.exec(frame);
  return own ? own[1]! : undefined;
};
const pct = (n: number, of: number) => `${((100 * n) / of).toFixed(1).padStart(5)}%`;
for (const pid of pids) {
  const mine = samples.filter((s) => s.pid === pid);
  if (mine.length === 0) continue;
  const threads = new Map<string, number>();
  const byLibrary = new Map<string, number>();
  let main = 0;
  for (const s of mine) {
    const stack = s.frames.join(" ");
    if (s.tid !== pid) {
      const kind = /[Cc]ompile|compiler::/.test(stack) ? "background: JIT compilation" : /Scaveng|Mark|Sweep|Heap/.test(stack) ? "background: GC" : "background: other";
      threads.set(kind, (threads.get(kind) ?? 0) + 1);
      continue;
    }
    main++;
    const lib = s.frames.filter((f) => f.startsWith("JS:")).map(library).find((l) => l !== undefined);
    const key = lib ?? (/entry_SYSCALL|do_syscall/.test(stack) ? "(no library: kernel)" : "(no library: V8, Node, libuv)");
    byLibrary.set(key, (byLibrary.get(key) ?? 0) + 1);
  }
  console.log(`pid ${pid}: ${mine.length} samples; main thread ${pct(main, mine.length)}, ${[...threads].map(([k, n]) => `${k} ${pct(n, mine.length).trim()}`).join(", ")}`);
  for (const [k, n] of [...byLibrary].sort((a, b) => b[1] - a[1]).slice(0, 16)) console.log(`  ${pct(n, main)} of the main thread  ${k}`);
}
