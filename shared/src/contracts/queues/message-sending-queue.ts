import { idSchema, z } from "../zod.ts";

/** One AutoMessage due for delivery. */
export const autoMessageJobSchema = z.object({
  v: z.literal(1),
  automessageId: z.string().min(1).max(64),
  senderId: idSchema,
  recipientId: idSchema,
  content: z.string().min(1),
});

export type AutoMessageJob = z.infer<typeof autoMessageJobSchema>;

export const messageSendingQueue = {
  name: "message_sending_queue",
  schema: autoMessageJobSchema,
} as const;

/** The queue's real name in a cluster whose queues carry `prefix`. */
export const queueName = (prefix: string, queue: { name: string }) => `${prefix}${queue.name}`;

/** Where a job goes after its last attempt, with the reason in its headers. */
export const deadLetterQueueName = (prefix: string, queue: { name: string }) => `${prefix}${queue.name}.dlq`;

/**
 * Delay queue for retry `attempt` (1-based): messages wait out the queue's TTL, then
 * RabbitMQ dead-letters them back to the main queue. One queue per delay, so a long
 * delay never holds a short one behind it; the delay is in the name because a queue's
 * TTL cannot change once declared.
 */
export const retryQueueName = (prefix: string, queue: { name: string }, attempt: number, delayMs: number) =>
  `${prefix}${queue.name}.retry.${attempt}.${delayMs}ms`;

/** Message headers the pipeline keeps on a job. */
export const JOB_HEADERS = {
  attempts: "x-attempts",
  reason: "x-failure-reason",
  failedAt: "x-failed-at",
} as const;
