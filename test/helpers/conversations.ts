import { call, type TestUser } from "./api.ts";

export interface ConversationView {
  id: string;
  type: "direct" | "group";
  participantIds: string[];
  lastSeq: number;
  unreadCount: number;
  lastReadSeq: number;
  lastMessage: { messageId: string; content: string; seq: number } | null;
}

export async function createConversation(gatewayUrl: string, owner: TestUser, others: TestUser[], title?: string): Promise<ConversationView> {
  const res = await call<{ conversation: ConversationView }>(
    gatewayUrl,
    "POST",
    "/api/conversations",
    { participantIds: others.map((o) => o.id), ...(title ? { title } : {}) },
    { token: owner.accessToken, ip: owner.ip },
  );
  if (res.status !== 201 && res.status !== 200) throw new Error(`create conversation failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.conversation;
}

export async function history(gatewayUrl: string, user: TestUser, conversationId: string, query = "limit=200") {
  const res = await call<{ messages: Array<{ messageId: string; seq: number; content: string; clientMsgId: string }>; hasMore: boolean }>(
    gatewayUrl,
    "GET",
    `/api/conversations/${conversationId}/messages?${query}`,
    undefined,
    { token: user.accessToken, ip: user.ip },
  );
  if (res.status !== 200) throw new Error(`history failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}
