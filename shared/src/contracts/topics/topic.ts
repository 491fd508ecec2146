import type { z } from "zod";

/**
 * One Kafka topic: its base name (the cluster's prefix is added at runtime), how records
 * are keyed, and the zod schema of its values. The dead-letter topic name is derived,
 * never typed twice.
 */
export interface TopicContract<S extends z.ZodTypeAny> {
  name: string;
  /** What the record key is, for readers in Kafka UI. */
  key: string;
  schema: S;
}

export const defineTopic = <S extends z.ZodTypeAny>(contract: TopicContract<S>): TopicContract<S> => contract;

/** The topic's real name in a cluster whose topics carry `prefix`. */
export const topicName = (prefix: string, contract: { name: string }) => `${prefix}${contract.name}`;

/** Where records that can never be processed go, with the reason in a header. */
export const deadLetterTopicName = (prefix: string, contract: { name: string }) => `${prefix}${contract.name}.dlq`;
