import type { Db } from "mongodb";
import type { AmqpDependency } from "@chat/shared";
import type { ActiveUserIds } from "../automessages/active-users.ts";
import type { AutoMessageStore } from "../automessages/automessage-store.ts";
import type { AutoMessageQueues } from "../automessages/topology.ts";
import type { AutoMessageSettings } from "../config.ts";

/** What the scheduler's jobs run against. */
export interface SchedulerDeps {
  db: Db;
  store: AutoMessageStore;
  /** The active users' ids, from the auth service. */
  activeUsers: ActiveUserIds;
  amqp: AmqpDependency;
  queues: AutoMessageQueues;
  settings: AutoMessageSettings;
}
