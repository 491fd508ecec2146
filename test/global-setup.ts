import { Socket } from "node:net";
import { stackEnv } from "../shared/src/testing/index.ts";
import { removeAbandonedClusters } from "./helpers/cluster-state.ts";

function probe(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.setTimeout(1000);
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
    socket.once("error", () => resolve(false));
    socket.connect(port, host);
  });
}

/** Integration suites need the real stack; say so plainly instead of timing out in every test. */
export default async function setup(): Promise<void> {
  const targets: Array<[string, string]> = [
    ["kafka", stackEnv.kafkaBrokers[0]!],
    ["mongo", new URL(stackEnv.mongoUrl).host],
    ["redis", new URL(stackEnv.redisUrl).host],
    ["rabbitmq", new URL(stackEnv.amqpUrl).host],
    ["sonic", `${stackEnv.search.host}:${stackEnv.search.port}`],
  ];
  const down: string[] = [];
  for (const [name, hostPort] of targets) {
    const [host, port] = hostPort.split(":");
    if (!(await probe(host ?? "127.0.0.1", Number(port)))) down.push(`${name} (${hostPort})`);
  }
  if (down.length > 0) {
    throw new Error(`The integration stack is not reachable: ${down.join(", ")}. Start it with: bash infra/native/stack.sh up`);
  }
  const abandoned = await removeAbandonedClusters();
  if (abandoned > 0) console.warn(`removed what ${abandoned} test clusters of earlier runs had left in the stack`);
}
