import type { MessageSend } from "@chat/shared/contracts";
import type { RecipientEvent } from "@chat/shared/contracts";
import type { DeliveryPublisher } from "@chat/shared";
import { persistMessages, type PersistDeps, type Rejected } from "./persist-messages.ts";

/**
 * `message.send` -> MongoDB -> one `message` delivery event per participant (the sender's
 * devices included), durable in Kafka. Only then may the offsets move.
 */
export function createSendHandler(deps: PersistDeps & { delivery: DeliveryPublisher; onPersisted?: (count: number) => void }) {
  return async (records: MessageSend[], origins: string[]): Promise<Rejected[]> => {
    const { toDeliver, rejected } = await persistMessages(records, origins, deps);
    const events: RecipientEvent[] = [];
    for (const { message, participantIds } of toDeliver) {
      for (const recipientId of participantIds) events.push({ v: 1, type: "message", recipientId, message });
    }
    await deps.delivery.publish(events);
    deps.onPersisted?.(toDeliver.length);
    return rejected;
  };
}
