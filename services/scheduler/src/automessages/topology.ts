import type { ConfirmChannel } from "amqplib";
import { deadLetterQueueName, messageSendingQueue, queueName, retryQueueName } from "@chat/shared/contracts";

/** Delay before retry `attempt` (1-based): base, 4x base, 16x base, ... */
export const retryDelayMs = (baseMs: number, attempt: number) => baseMs * 4 ** (attempt - 1);

export interface AutoMessageQueues {
  main: string;
  dlq: string;
  /** retry[attempt - 1] is the delay queue used after failed attempt `attempt`. */
  retry: string[];
}

export function autoMessageQueues(prefix: string, maxAttempts: number, retryBaseMs: number): AutoMessageQueues {
  return {
    main: queueName(prefix, messageSendingQueue),
    dlq: deadLetterQueueName(prefix, messageSendingQueue),
    retry: Array.from({ length: Math.max(0, maxAttempts - 1) }, (_, i) =>
      retryQueueName(prefix, messageSendingQueue, i + 1, retryDelayMs(retryBaseMs, i + 1)),
    ),
  };
}

/**
 * Declares the AutoMessage queues (idempotent; both roles call it): the durable main queue,
 * its dead-letter queue, and one delay queue per retry whose TTL dead-letters back to the
 * main queue.
 */
export async function declareAutoMessageTopology(channel: ConfirmChannel, queues: AutoMessageQueues, retryBaseMs: number): Promise<void> {
  await channel.assertQueue(queues.main, { durable: true });
  await channel.assertQueue(queues.dlq, { durable: true });
  for (const [i, name] of queues.retry.entries()) {
    await channel.assertQueue(name, {
      durable: true,
      messageTtl: retryDelayMs(retryBaseMs, i + 1),
      deadLetterExchange: "",
      deadLetterRoutingKey: queues.main,
    });
  }
}
