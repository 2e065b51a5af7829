import { query, request, requestRaw } from "./client";
import type { AiTrace, Assistant, ChatSummary, ChatSummaryText, Contact, Message, SendResult, Session, Tag } from "./types";

export type HumanFilter = "all" | "human_only" | "bot_only";

export interface ChatFilters {
  human_filter: HumanFilter;
  channel: string; // "" = every channel
  tag: string; // tag id, "" = any
  q: string;
}

export const PAGE_SIZE = 50;

export interface ChatPage {
  rows: ChatSummary[];
  nextCursor: string | null;
}

export const api = {
  me: () => request<Session>("GET", "/api/auth/me"),
  login: (email: string, password: string) => request<Session>("POST", "/api/auth/login", { email, password }),
  logout: () => request<void>("POST", "/api/auth/logout"),
  selectTenant: (slug: string) => request<Session>("POST", "/api/auth/tenant", { slug }),

  async chats(filters: ChatFilters, cursor: string | null): Promise<ChatPage> {
    const path = "/admin/chats/summary" + query({
      human_filter: filters.human_filter, channel: filters.channel, tag: filters.tag, q: filters.q.trim(),
      limit: PAGE_SIZE, cursor,
    });
    const { data, headers } = await requestRaw<ChatSummary[]>("GET", path);
    return { rows: data, nextCursor: headers.get("X-Next-Cursor") };
  },
  chat: (id: string) => request<ChatSummary>("GET", `/admin/chats/${id}`),
  messages: (id: string, params: { before_id?: number; after_id?: number; limit?: number }) =>
    request<Message[]>("GET", `/admin/chats/${id}/messages` + query({ ...params })),
  send: (id: string, message: string) => request<SendResult>("POST", `/admin/chats/${id}/messages`, { message }),
  markRead: (id: string) => request<{ unread_count: number }>("POST", `/admin/chats/${id}/read`),
  setLocked: (id: string, locked: boolean) =>
    request<{ locked: boolean }>("POST", `/admin/conversations/${id}/human-override`, { locked }),

  contact: (id: string) => request<Contact>("GET", `/admin/contacts/${id}`),
  updateContact: (id: string, body: Partial<Pick<Contact, "display_name" | "phone" | "notes">>) =>
    request<Contact>("PATCH", `/admin/contacts/${id}`, body),
  applyTag: (contactId: string, tagId: string) => request<Contact>("PUT", `/admin/contacts/${contactId}/tags/${tagId}`),
  removeTag: (contactId: string, tagId: string) =>
    request<Contact>("DELETE", `/admin/contacts/${contactId}/tags/${tagId}`),

  tags: () => request<Tag[]>("GET", "/admin/tags"),
  createTag: (name: string, color: string) => request<Tag>("POST", "/admin/tags", { name, color }),
  updateTag: (id: string, body: Partial<Pick<Tag, "name" | "color">>) => request<Tag>("PATCH", `/admin/tags/${id}`, body),
  deleteTag: (id: string) => request<void>("DELETE", `/admin/tags/${id}`),

  summary: (id: string) => request<ChatSummaryText>("GET", `/admin/chats/${id}/summary`),
  refreshSummary: (id: string) => request<ChatSummaryText>("POST", `/admin/chats/${id}/summary`),
  assistants: () => request<Assistant[]>("GET", "/admin/assistants"),
  trace: (correlationId: string) => request<AiTrace>("GET", `/admin/logs/ai/${encodeURIComponent(correlationId)}`),
};

// Query keys in one place, so the event handlers update exactly what the views read.
export const keys = {
  me: ["me"] as const,
  chatsRoot: ["chats"] as const,
  chats: (filters: ChatFilters) => ["chats", filters] as const,
  chat: (id: string) => ["chat", id] as const,
  messages: (id: string) => ["messages", id] as const,
  contact: (id: string) => ["contact", id] as const,
  tags: ["tags"] as const,
  summary: (id: string) => ["summary", id] as const,
  trace: (cid: string) => ["trace", cid] as const,
  assistants: ["assistants"] as const,
};
