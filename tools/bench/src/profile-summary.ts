// Where a V8 CPU profile (`npm run bench:cpu -- --profile DIR`, or Chrome DevTools) spent its
// samples: by package, by function (self) and by function with what it calls (inclusive).
//
//   npm run -s bench:profile -- FILE.cpuprofile [--top 40]
//
// The sampler runs on wall-clock time: on a box whose cores are all busy, a process that is
// descheduled inside a syscall (a socket write that woke its peer) is charged for the wait, so
// syscalls look dearer here than they are. Compare processes' CPU time (`bench:cpu`) to decide.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { dependencyOf } from "./package-of.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  startTime: number;
  endTime: number;
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: "string", default: "40" } } });
if (positionals.length !== 1) throw new Error("usage: npm run -s bench:profile -- FILE.cpuprofile [--top 40]");
const profile = JSON.parse(readFileSync(positionals[0]!, "utf8")) as Profile;
const top = Number(values.top);

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
const shortUrl = (url: string) => url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*?\/(services|shared|tools)\//, "$1/");
const label = (n: ProfileNode) => `${n.callFrame.functionName || "(anonymous)"} ${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
const packageOf = (n: ProfileNode) => {
  const { url, functionName } = n.callFrame;
  if (!url) return functionName.startsWith("(") ? functionName : "(native)";
  const dep = dependencyOf(url);
  if (dep) return dep;
  if (url.startsWith("node:")) return url;
  return shortUrl(url).split("/").slice(0, 3).join("/");
};

const hits = new Map<number, number>();
for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
const self = new Map<string, number>();
const packages = new Map<string, number>();
const inclusive = new Map<string, number>();
const add = (m: Map<string, number>, k: string, n: number) => m.set(k, (m.get(k) ?? 0) + n);
for (const [id, n] of hits) {
  const node = byId.get(id)!;
  add(self, label(node), n);
  add(packages, packageOf(node), n);
  const seen = new Set<string>();
  for (let x: number | undefined = id; x !== undefined; x = parentOf.get(x)) {
    const l = label(byId.get(x)!);
    if (!seen.has(l)) add(inclusive, l, n);
    seen.add(l);
  }
}
const total = profile.samples.length;
const idle = self.get("(idle) :0") ?? 0;
const print = (title: string, m: Map<string, number>, k: number) => {
  console.log(`\n${title}`);
  for (const [l, n] of [...m].sort((a, b) => b[1] - a[1]).slice(0, k)) console.log(`${((100 * n) / total).toFixed(1).padStart(5)}%  ${l}`);
};
console.log(`${total} samples over ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s, ${((100 * (total - idle)) / total).toFixed(1)}% busy`);
print("by package (self)", packages, 25);
print("by function (self)", self, top);
print("by function (inclusive)", inclusive, top);
