import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { uniqueName } from "../../shared/src/testing/index.ts";
import { removeClusterState } from "./cluster-state.ts";
import { freePort, spawnService, waitReady, type ServiceProcess } from "./processes.ts";

export interface ClusterOptions {
  /** Gateway replicas. @default 2 */
  gateways?: number;
  /** Message-service replicas. @default 1 */
  messageReplicas?: number;
  /** Also start the scheduler and worker roles. @default false */
  automessages?: boolean;
  /** Env given to every process (e.g. tighter rate limits). */
  env?: Record<string, string>;
}

export interface TestCluster {
  gateways: ServiceProcess[];
  auth: ServiceProcess;
  messages: ServiceProcess[];
  scheduler?: ServiceProcess;
  worker?: ServiceProcess;
  /** The env every process of this cluster got: reuse it to start or restart one more. */
  env: Record<string, string>;
  /** Starts one more process of this cluster (e.g. a restarted message service on its old port). */
  spawn(name: string, entry: string, extraEnv?: Record<string, string>, port?: number): Promise<ServiceProcess>;
  /** Stops every process, then removes the cluster's topics, groups, database and Redis keys. */
  stop(): Promise<void>;
}

export const entries = {
  gateway: "services/gateway/src/main.ts",
  auth: "services/auth/src/main.ts",
  message: "services/message/src/main.ts",
  scheduler: "services/scheduler/src/main-scheduler.ts",
  worker: "services/scheduler/src/main-worker.ts",
} as const;

/** A dev key pair for this cluster only: tokens of one test cluster mean nothing to another. */
export function writeKeyPair(): { privateFile: string; publicFile: string } {
  const dir = mkdtempSync(join(tmpdir(), "chat-keys-"));
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const privateFile = join(dir, "jwt-private.pem");
  const publicFile = join(dir, "jwt-public.pem");
  writeFileSync(privateFile, privateKey.export({ type: "pkcs8", format: "pem" }));
  writeFileSync(publicFile, publicKey.export({ type: "spki", format: "pem" }));
  return { privateFile, publicFile };
}

/**
 * Starts a whole cluster as real OS processes on free ports, against the real stack, with
 * its own Redis prefix, database and Kafka topic prefix so test files never see each other.
 */
export async function startCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  const { gateways = 2, messageReplicas = 1, automessages = false } = options;
  const id = uniqueName("tc").replace(/-/g, "_");
  const keys = writeKeyPair();
  const authPort = await freePort();
  const messagePorts = await Promise.all(Array.from({ length: messageReplicas }, () => freePort()));
  const env: Record<string, string> = {
    REDIS_PREFIX: `${id}:`,
    MONGO_DB: id,
    KAFKA_TOPIC_PREFIX: `${id}.`,
    AMQP_QUEUE_PREFIX: `${id}.`,
    ADMIN_API_TOKEN: `admin-${id}`,
    KAFKA_PARTITIONS: "4",
    JWT_PRIVATE_KEY_FILE: keys.privateFile,
    JWT_PUBLIC_KEY_FILE: keys.publicFile,
    BCRYPT_COST: "4",
    INTERNAL_API_TOKEN: `internal-${id}`,
    AUTH_URL: `http://127.0.0.1:${authPort}`,
    MESSAGE_URL: messagePorts.map((p) => `http://127.0.0.1:${p}`).join(","),
    // The ops console's charts sample this cluster's processes, never a Prometheus on the box.
    PROMETHEUS_URL: "",
    ...options.env,
  };
  const started: ServiceProcess[] = [];
  const spawn = async (name: string, entry: string, extraEnv: Record<string, string> = {}, port?: number) => {
    const svc = spawnService(name, entry, port ?? (await freePort()), { ...env, ...extraEnv });
    started.push(svc);
    return svc;
  };

  /** Stops every process this cluster started, then removes its topics, groups, database and Redis keys. */
  const stop = async () => {
    const alive = started.filter((s) => s.child.exitCode === null && s.child.signalCode === null);
    for (const svc of alive) svc.child.kill("SIGTERM");
    await Promise.race([
      Promise.all(alive.map((s) => s.exited)),
      new Promise((resolve) => setTimeout(resolve, 15_000)),
    ]);
    for (const svc of alive) if (svc.child.exitCode === null) svc.child.kill("SIGKILL");
    await removeClusterState(env);
  };

  try {
    const auth = await spawn("auth", entries.auth, {}, authPort);
    const messages = await Promise.all(messagePorts.map((p, i) => spawn(`message-${i}`, entries.message, {}, p)));
    // Topics are created by the message service; gateways start once it is ready.
    await Promise.all([auth, ...messages].map((s) => waitReady(s)));
    const gatewayProcs = await Promise.all(
      Array.from({ length: gateways }, async (_, i) => spawn(`gateway-${i}`, entries.gateway, { GATEWAY_ID: `${id}-gw${i}`, GRPC_PORT: String(await freePort()) })),
    );
    // The scheduler's ops console lists this cluster's processes (scheduler and worker on the ports they get here).
    const [schedulerPort, workerPort] = [await freePort(), await freePort()];
    env.OPS_PROCESSES ??= [...[auth, ...messages, ...gatewayProcs].map((s) => `${s.name}=${s.url}`), `scheduler=http://127.0.0.1:${schedulerPort}`, `worker=http://127.0.0.1:${workerPort}`].join(",");
    const scheduler = automessages ? await spawn("scheduler", entries.scheduler, {}, schedulerPort) : undefined;
    const worker = automessages ? await spawn("worker", entries.worker, {}, workerPort) : undefined;
    await Promise.all([...gatewayProcs, ...(scheduler ? [scheduler] : []), ...(worker ? [worker] : [])].map((s) => waitReady(s)));

    return {
      gateways: gatewayProcs,
      auth,
      messages,
      scheduler,
      worker,
      env,
      spawn: async (name, entry, extraEnv, port) => {
        const svc = await spawn(name, entry, extraEnv, port);
        await waitReady(svc);
        return svc;
      },
      stop,
    };
  } catch (err) {
    // A start that fails half-way (a port taken between freePort and listen, a process that
    // never gets ready) must not leave the processes it did start running after the caller.
    await stop().catch(() => undefined);
    throw err;
  }
}
