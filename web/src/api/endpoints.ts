import { query, request, requestRaw, uploadWithProgress } from "./client";
import type {
  AiTrace, ApiToken, ApiTokenCreated, Assistant, AssistantCreate, AssistantUpdate, CannedResponse, CannedResponseCreate,
  CannedResponseUpdate, Channel, ChannelCheck, ChannelCreate, ChannelCreated, ChannelKindInfo, ChannelUpdate, TemplateSync,
  ChatSummary, ChatSummaryText, ConversationAnswering, OutboundAttachment, UnreadCount, UploadedMedia,
  Contact, ContactUpdate, KnowledgeCreate, KnowledgeEntry, KnowledgeHit, McpServer, McpServerCreate, McpTool, Member,
  MemberCreate, Message, Role, SendResult, Session, Tag, Template, TemplateSendRequest, TemplateSendResult,
  TenantSettings, TenantSettingsUpdate, ToolInfo, TryMessage, TryResult,
} from "./types";

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
  answering: (id: string) => request<ConversationAnswering>("GET", `/admin/chats/${id}/answering`),
  unread: () => request<UnreadCount>("GET", "/admin/chats/unread"),
  messages: (id: string, params: { before_id?: number; after_id?: number; limit?: number }) =>
    request<Message[]>("GET", `/admin/chats/${id}/messages` + query({ ...params })),
  send: (id: string, message: string, attachments: OutboundAttachment[] = []) =>
    request<SendResult>("POST", `/admin/chats/${id}/messages`, attachments.length ? { message, attachments } : { message }),
  /** A file for the composer to send (its `id` goes in a send's attachment as `media_id`). */
  uploadMedia: (file: File, onProgress: (fraction: number) => void) =>
    uploadWithProgress<UploadedMedia>("/admin/media", file, onProgress),
  /** A private note: the team's only, never delivered; it comes back as a message of kind `note`. */
  /** The agent is typing in this chat (shown to a web chat's visitor; nothing for other channels). */
  typing: (id: string, on: boolean) => request<void>("POST", `/admin/conversations/${id}/typing`, { on }),
  addNote: (id: string, content: string) => request<Message>("POST", `/admin/chats/${id}/notes`, { content }),
  markRead: (id: string) => request<{ unread_count: number }>("POST", `/admin/chats/${id}/read`),
  setLocked: (id: string, locked: boolean) =>
    request<{ locked: boolean }>("POST", `/admin/conversations/${id}/human-override`, { locked }),
  /** One message of a conversation by id (a quoted one not loaded yet): the newest before id + 1. */
  async message(conversationId: string, id: number): Promise<Message | null> {
    const page = await api.messages(conversationId, { before_id: id + 1, limit: 1 });
    return page.find((m) => m.id === id) ?? null;
  },
  /** Send a failed message again: it comes back `queued`; `message.updated` events follow it. */
  retryMessage: (id: number) => request<Message>("POST", `/admin/messages/${id}/retry`),
  templates: (channelId: string) =>
    request<Template[]>("GET", "/admin/templates" + query({ channel: channelId, status: "APPROVED" })),
  sendTemplate: (body: TemplateSendRequest) => request<TemplateSendResult>("POST", "/admin/templates/send", body),

  contact: (id: string) => request<Contact>("GET", `/admin/contacts/${id}`),
  updateContact: (id: string, body: ContactUpdate) => request<Contact>("PATCH", `/admin/contacts/${id}`, body),
  applyTag: (contactId: string, tagId: string) => request<Contact>("PUT", `/admin/contacts/${contactId}/tags/${tagId}`),
  removeTag: (contactId: string, tagId: string) =>
    request<Contact>("DELETE", `/admin/contacts/${contactId}/tags/${tagId}`),

  cannedResponses: () => request<CannedResponse[]>("GET", "/admin/canned-responses"),
  createCanned: (body: CannedResponseCreate) => request<CannedResponse>("POST", "/admin/canned-responses", body),
  updateCanned: (id: string, body: CannedResponseUpdate) =>
    request<CannedResponse>("PATCH", `/admin/canned-responses/${id}`, body),
  deleteCanned: (id: string) => request<void>("DELETE", `/admin/canned-responses/${id}`),

  tags: () => request<Tag[]>("GET", "/admin/tags"),
  createTag: (name: string, color: string) => request<Tag>("POST", "/admin/tags", { name, color }),
  updateTag: (id: string, body: Partial<Pick<Tag, "name" | "color">>) => request<Tag>("PATCH", `/admin/tags/${id}`, body),
  deleteTag: (id: string) => request<void>("DELETE", `/admin/tags/${id}`),

  summary: (id: string) => request<ChatSummaryText>("GET", `/admin/chats/${id}/summary`),
  refreshSummary: (id: string) => request<ChatSummaryText>("POST", `/admin/chats/${id}/summary`),
  trace: (correlationId: string) => request<AiTrace>("GET", `/admin/logs/ai/${encodeURIComponent(correlationId)}`),

  // ---- settings (owners and admins) ----
  assistants: () => request<Assistant[]>("GET", "/admin/assistants"),
  createAssistant: (body: AssistantCreate) => request<Assistant>("POST", "/admin/assistants", body),
  updateAssistant: (id: string, body: AssistantUpdate) => request<Assistant>("PATCH", `/admin/assistants/${id}`, body),
  deleteAssistant: (id: string) => request<void>("DELETE", `/admin/assistants/${id}`),
  assistantTools: (id: string) => request<ToolInfo[]>("GET", `/admin/assistants/${id}/tools`),
  tryAssistant: (id: string, messages: TryMessage[]) =>
    request<TryResult>("POST", `/admin/assistants/${id}/try`, { messages }),

  knowledge: (assistantId: string) => request<KnowledgeEntry[]>("GET", `/admin/assistants/${assistantId}/knowledge`),
  addKnowledge: (assistantId: string, body: KnowledgeCreate) =>
    request<KnowledgeEntry>("POST", `/admin/assistants/${assistantId}/knowledge`, body),
  updateKnowledge: (assistantId: string, entryId: string, body: Partial<KnowledgeCreate>) =>
    request<KnowledgeEntry>("PATCH", `/admin/assistants/${assistantId}/knowledge/${entryId}`, body),
  deleteKnowledge: (assistantId: string, entryId: string) =>
    request<void>("DELETE", `/admin/assistants/${assistantId}/knowledge/${entryId}`),
  uploadKnowledge: (assistantId: string, file: File) => {
    const form = new FormData();
    form.append("file", file);
    return request<KnowledgeEntry>("POST", `/admin/assistants/${assistantId}/knowledge/upload`, form);
  },
  searchKnowledge: (assistantId: string, q: string) =>
    request<KnowledgeHit[]>("GET", `/admin/assistants/${assistantId}/knowledge/search` + query({ q })),

  mcpServers: () => request<McpServer[]>("GET", "/admin/mcp-servers"),
  addMcpServer: (body: McpServerCreate) => request<McpServer>("POST", "/admin/mcp-servers", body),
  deleteMcpServer: (id: string) => request<void>("DELETE", `/admin/mcp-servers/${id}`),
  mcpServerTools: (id: string) => request<McpTool[]>("GET", `/admin/mcp-servers/${id}/tools`),

  members: () => request<Member[]>("GET", "/admin/members"),
  addMember: (body: MemberCreate) => request<Member>("POST", "/admin/members", body),
  setMemberRole: (userId: string, role: Role) => request<Member>("PATCH", `/admin/members/${userId}`, { role }),
  removeMember: (userId: string) => request<void>("DELETE", `/admin/members/${userId}`),

  tokens: () => request<ApiToken[]>("GET", "/admin/tokens"),
  createToken: (name: string) => request<ApiTokenCreated>("POST", "/admin/tokens", { name }),
  revokeToken: (id: string) => request<void>("DELETE", `/admin/tokens/${id}`),

  channels: () => request<Channel[]>("GET", "/admin/channels"),
  channelKinds: () => request<ChannelKindInfo[]>("GET", "/admin/channels/kinds"),
  createChannel: (body: ChannelCreate) => request<ChannelCreated>("POST", "/admin/channels", body),
  updateChannel: (id: string, body: ChannelUpdate) => request<Channel>("PATCH", `/admin/channels/${id}`, body),
  deleteChannel: (id: string) => request<void>("DELETE", `/admin/channels/${id}`),
  checkChannel: (id: string) => request<ChannelCheck>("POST", `/admin/channels/${id}/check`),
  /** Every synced template of the tenant (all statuses), or one channel's. */
  allTemplates: (channelId?: string) => request<Template[]>("GET", "/admin/templates" + query({ channel: channelId })),
  /** Read the templates from the providers: one WhatsApp channel's, or every one's. */
  syncTemplates: (channelId?: string) =>
    request<TemplateSync>("POST", "/admin/templates/sync" + query({ channel: channelId })),

  tenant: () => request<TenantSettings>("GET", "/admin/tenant"),
  updateTenant: (body: TenantSettingsUpdate) => request<TenantSettings>("PATCH", "/admin/tenant", body),
};

// Query keys in one place, so the event handlers update exactly what the views read.
export const keys = {
  me: ["me"] as const,
  chatsRoot: ["chats"] as const,
  chats: (filters: ChatFilters) => ["chats", filters] as const,
  chat: (id: string) => ["chat", id] as const,
  answering: (id: string) => ["answering", id] as const,
  unread: ["unread"] as const,
  messages: (id: string) => ["messages", id] as const,
  message: (conversationId: string, id: number) => ["message", conversationId, id] as const,
  templates: (channelId: string) => ["templates", channelId] as const,
  contact: (id: string) => ["contact", id] as const,
  tags: ["tags"] as const,
  canned: ["canned-responses"] as const,
  summary: (id: string) => ["summary", id] as const,
  typing: (id: string) => ["typing", id] as const,
  trace: (cid: string) => ["trace", cid] as const,
  assistants: ["assistants"] as const,
  knowledge: (assistantId: string) => ["knowledge", assistantId] as const,
  mcpServers: ["mcp-servers"] as const,
  mcpTools: (serverId: string) => ["mcp-tools", serverId] as const,
  members: ["members"] as const,
  tokens: ["tokens"] as const,
  tenant: ["tenant"] as const,
  channels: ["channels"] as const,
  channelKinds: ["channel-kinds"] as const,
  allTemplates: ["templates", "all"] as const,
};
