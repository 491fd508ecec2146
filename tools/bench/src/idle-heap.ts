// Memory per idle Socket.IO connection, heap after a full GC and RSS, of one of our gateways and
// of one plain relay instance, measured the same way (see idle-memory.ts). Runs against the
// running infrastructure (`npm run up`).
//
//   npm run bench:idle-heap [-- --sockets 10000]
import { parseArgs } from "node:util";
import { gatewayIdleMemory, relayIdleMemory } from "./idle-memory.ts";

const { values } = parseArgs({ options: { sockets: { type: "string", default: "10000" } } });
const n = Math.min(Number(values.sockets), 20_000);
const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
const ours = await gatewayIdleMemory(n);
const relay = await relayIdleMemory(n);
console.log(`per idle connection, ${n} sockets: gateway heap ${kib(ours.heapPerConnection)} (RSS ${kib(ours.rssPerConnection)}); relay heap ${kib(relay.heapPerConnection)} (RSS ${kib(relay.rssPerConnection)}); heap ratio ${(ours.heapPerConnection / relay.heapPerConnection).toFixed(2)}`);
process.exit(0);
