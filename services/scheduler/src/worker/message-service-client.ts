import { DependencyError, INTERNAL_TOKEN_HEADER, NotFoundError, ValidationError } from "@chat/shared";

/** The worker's use of the message service: the direct conversation of a pair, created when missing. */
export function createDirectConversations({ baseUrl, internalToken }: { baseUrl: string; internalToken: string }) {
  return {
    async ensure(senderId: string, recipientId: string): Promise<string> {
      let res: Response;
      try {
        res = await fetch(new URL("/internal/conversations/direct", baseUrl), {
          method: "POST",
          headers: { "content-type": "application/json", [INTERNAL_TOKEN_HEADER]: internalToken },
          body: JSON.stringify({ userIds: [senderId, recipientId] }),
          signal: AbortSignal.timeout(5000),
        });
      } catch (err) {
        throw new DependencyError("Message service unreachable", err);
      }
      if (res.status === 404) throw new NotFoundError("Sender or recipient no longer exists", "USER_NOT_FOUND");
      if (res.status === 400) throw new ValidationError("Message service refused the pair");
      if (!res.ok) throw new DependencyError(`Message service answered ${res.status}`);
      return ((await res.json()) as { conversationId: string }).conversationId;
    },
  };
}

export type DirectConversations = ReturnType<typeof createDirectConversations>;
