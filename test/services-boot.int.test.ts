import { afterAll, describe, expect, it } from "vitest";
import { uniqueName } from "../shared/src/testing/index.ts";
import { writeKeyPair } from "./helpers/cluster.ts";
import { removeClusterState } from "./helpers/cluster-state.ts";
import { freePort, spawnService, waitReady, type ServiceProcess } from "./helpers/processes.ts";

const entries: Array<[string, string]> = [
  ["auth", "services/auth/src/main.ts"],
  ["message", "services/message/src/main.ts"],
  ["scheduler", "services/scheduler/src/main-scheduler.ts"],
  ["worker", "services/scheduler/src/main-worker.ts"],
  ["gateway-a", "services/gateway/src/main.ts"],
  ["gateway-b", "services/gateway/src/main.ts"],
];

describe("every process boots for real and shuts down cleanly", () => {
  const running: ServiceProcess[] = [];
  let env: Record<string, string> | undefined;
  afterAll(async () => {
    for (const svc of running) svc.child.kill("SIGKILL");
    if (env) await removeClusterState(env);
  });

  it("answers /healthz, /readyz and /metrics, then exits 0 on SIGTERM", async () => {
    const keys = writeKeyPair();
    // A prefix of its own per run: nothing a previous run left in Kafka, RabbitMQ or Redis matters.
    const run = uniqueName("boot").replace(/-/g, "_");
    env = {
      JWT_PRIVATE_KEY_FILE: keys.privateFile,
      JWT_PUBLIC_KEY_FILE: keys.publicFile,
      KAFKA_TOPIC_PREFIX: `${run}.`,
      AMQP_QUEUE_PREFIX: `${run}.`,
      REDIS_PREFIX: `${run}:`,
      MONGO_DB: run,
      INTERNAL_API_TOKEN: "boot-test-internal-token",
      ADMIN_API_TOKEN: "boot-test-admin-token",
    };
    for (const [name, entry] of entries) {
      running.push(spawnService(name, entry, await freePort(), { ...env, GATEWAY_ID: `${run}-${name}` }));
    }
    await Promise.all(running.map((svc) => waitReady(svc)));

    for (const svc of running) {
      const health = await fetch(`${svc.url}/healthz`);
      expect(health.status, svc.name).toBe(200);
      const ready = (await (await fetch(`${svc.url}/readyz`)).json()) as { status: string; checks: Record<string, string> };
      expect(ready.status, svc.name).toBe("ready");
      expect(Object.keys(ready.checks).length, svc.name).toBeGreaterThan(0);
      const metrics = await (await fetch(`${svc.url}/metrics`)).text();
      expect(metrics, svc.name).toContain("process_cpu_user_seconds_total");
    }

    for (const svc of running) svc.child.kill("SIGTERM");
    const codes = await Promise.all(running.map((svc) => svc.exited));
    for (const [i, svc] of running.entries()) if (codes[i] !== 0) console.error(`--- ${svc.name} exited ${codes[i]} ---\n${svc.output().slice(-3000)}`);
    expect(Object.fromEntries(running.map((svc, i) => [svc.name, codes[i]]))).toEqual(
      Object.fromEntries(running.map((svc) => [svc.name, 0])),
    );
  }, 150_000);
});
