import type { TopicSpec } from "../clients/kafka.ts";
import { deadLetterTopicName, topicName } from "../contracts/topics/topic.ts";
import { messageReadTopic } from "../contracts/topics/message-read.ts";
import { messageSendTopic } from "../contracts/topics/message-send.ts";
import { messageStoredTopic } from "../contracts/topics/message-stored.ts";

export interface PipelineTopicSettings {
  KAFKA_TOPIC_PREFIX: string;
  KAFKA_PARTITIONS: number;
  KAFKA_REPLICATION_FACTOR: number;
}

/**
 * The topics the message pipeline shares (sends, read receipts, their dead letters, and the
 * stream of stored messages).
 * Every process that writes or reads them ensures them at start, idempotently, so no
 * process has to start before another.
 */
export function pipelineTopics({ KAFKA_TOPIC_PREFIX: prefix, KAFKA_PARTITIONS, KAFKA_REPLICATION_FACTOR }: PipelineTopicSettings): TopicSpec[] {
  const topic = (t: { name: string }): TopicSpec => ({ topic: topicName(prefix, t), numPartitions: KAFKA_PARTITIONS, replicationFactor: KAFKA_REPLICATION_FACTOR });
  const dlq = (t: { name: string }): TopicSpec => ({ ...topic(t), topic: deadLetterTopicName(prefix, t), numPartitions: 1 });
  return [topic(messageSendTopic), topic(messageReadTopic), dlq(messageSendTopic), dlq(messageReadTopic), topic(messageStoredTopic), dlq(messageStoredTopic)];
}
