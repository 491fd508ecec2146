import { parseArgs } from "node:util";
import { createAmqp, createLogger, createMongo, createRedis, loadConfig } from "@chat/shared";
import { autoMessageCommands } from "../automessages/commands.ts";
import { parseDuration } from "../automessages/duration.ts";
import { schedulerConfigSchema } from "../config.ts";
import { createSchedulerCore } from "../jobs/scheduler-core.ts";

const USAGE = `usage: npm run automessage -- <command> [options]

commands:
  plan [--send-within <duration>] [--plan-id <id>]   plan AutoMessages now (default: tonight's plan, once per night)
  queue                                              publish the AutoMessages that are due
  stats                                              planned / queued / sent / failed / dead-lettered counts

Uses the scheduler's environment (MONGO_URL, REDIS_URL, AMQP_URL, ...), and the same locks as the scheduler.`;

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { "send-within": { type: "string" }, "plan-id": { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  const command = positionals[0];
  if (values.help || !command || !["plan", "queue", "stats"].includes(command)) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const sendWithin = values["send-within"];
  if (sendWithin !== undefined && parseDuration(sendWithin) === undefined) {
    console.error(`--send-within: "${sendWithin}" is not a duration like 90s, 15m or 24h`);
    return 2;
  }

  const config = loadConfig("automessage-cli", schedulerConfigSchema.omit({ ADMIN_API_TOKEN: true, PORT: true }));
  const logger = createLogger({ name: "automessage-cli", level: process.env.LOG_LEVEL ?? "warn" });
  const mongo = await createMongo({ url: config.MONGO_URL, dbName: config.MONGO_DB, logger });
  const redis = await createRedis({ url: config.REDIS_URL, logger });
  const amqp = await createAmqp({ url: config.AMQP_URL, logger });
  try {
    const { deps, runner } = await createSchedulerCore(config, { mongo, redis, amqp }, logger, `cli-${process.pid}`);
    const commands = autoMessageCommands(deps, runner);
    const result =
      command === "plan"
        ? await commands.plan({ planId: values["plan-id"], sendWithinMs: sendWithin ? parseDuration(sendWithin) : undefined })
        : command === "queue"
          ? await commands.queue()
          : await commands.stats();
    console.log(JSON.stringify(result, null, 2));
    return 0;
  } finally {
    await amqp.close();
    await redis.close();
    await mongo.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
