import type { ConfirmChannel } from "amqplib";
import { DependencyError } from "@chat/shared";
import { JOB_HEADERS, type AutoMessageJob } from "@chat/shared/contracts";
import type { AutoMessageDoc } from "./automessage-store.ts";

export function toJob(doc: AutoMessageDoc): AutoMessageJob {
  return { v: 1, automessageId: doc._id, senderId: doc.senderId, recipientId: doc.recipientId, content: doc.content };
}

/** Publishes persistent jobs and resolves once the broker confirmed every one of them. */
export async function publishJobs(channel: ConfirmChannel, queue: string, docs: AutoMessageDoc[]): Promise<void> {
  if (docs.length === 0) return;
  for (const doc of docs) {
    channel.sendToQueue(queue, Buffer.from(JSON.stringify(toJob(doc))), {
      persistent: true,
      messageId: doc._id,
      contentType: "application/json",
      headers: { [JOB_HEADERS.attempts]: doc.attempts },
    });
  }
  try {
    await channel.waitForConfirms();
  } catch (err) {
    throw new DependencyError("RabbitMQ did not confirm the AutoMessages", err);
  }
}
