// Shapes of the server's JSON, as documented by its OpenAPI schema (src/tertulia/*/schemas.py).

export type ChannelSource = "whatsapp" | "instagram" | "facebook" | "web" | "api";

export interface Tag {
  id: string;
  name: string;
  color: string;
}

export interface ChatSummary {
  id: string;
  customer_phone: string;
  display_name: string;
  last_message: string;
  timestamp: string;
  channel_source: ChannelSource | string;
  unread_count: number;
  is_locked: boolean;
  platform_origin: string;
  contact_id: string;
  status: string;
  tags: Tag[];
  last_inbound_at: string | null;
}

export interface Attachment {
  type: "image" | "video" | "audio" | "document";
  url: string;
  filename?: string | null;
  mime_type?: string | null;
  size?: number | null;
}

export type MessageAuthor = "contact" | "ai" | "human" | "system";

export interface Message {
  id: number;
  conversation_id: string;
  sender: "user" | "agent";
  content: string;
  timestamp: string;
  attachments: Attachment[];
  correlation_id: string | null;
  author: MessageAuthor;
  author_name: string | null;
  status: string;
  error: string | null;
}

export interface Identity {
  channel_id: string;
  channel_source: string;
  channel_name: string;
  external_id: string;
}

export interface Contact {
  id: string;
  display_name: string;
  phone: string | null;
  notes: string;
  custom_attributes: Record<string, unknown>;
  last_seen_at: string | null;
  created_at: string;
  tags: Tag[];
  identities: Identity[];
}

export interface TenantRef {
  id: string;
  slug: string;
  name: string;
  role: string;
}

export interface Session {
  user: { id: string; email: string; display_name: string };
  tenant: TenantRef | null;
  tenants: TenantRef[];
  csrf_token: string;
}

export interface SendResult {
  status: "queued";
  conversation_id: string;
  message_id: number;
  is_locked: boolean;
  message: Message;
}

export interface ChatSummaryText {
  summary: string;
  generated_at: string | null;
  message_count: number;
  handoff_brief: string | null;
}

/** The AI trace of one reply (`GET /admin/logs/ai/{correlation_id}`). */
export interface AiTrace {
  correlation_id: string;
  conversation_id: string | null;
  assistant_id: string | null;
  provider: string;
  model: string;
  sources: Array<{ title?: string; content?: string; score?: number; [k: string]: unknown }>;
  steps: Array<Record<string, unknown>>;
  reasoning?: string[];
  tools_used?: Array<Record<string, unknown>>;
  output?: string;
  tokens_in?: number;
  tokens_out?: number;
  ttft_ms?: number | null;
  latency_ms?: number;
  outcome: string;
  error?: string | null;
  created_at?: string;
}

export interface Assistant {
  id: string;
  name: string;
  provider: string;
  model: string;
}

/** Every frame the event socket sends. */
export type EventFrame =
  | { type: "hello"; seq: number }
  | { type: "resync"; seq?: number }
  | { type: "ping" }
  | { type: "error"; code?: string; message?: string }
  | { seq: number; type: string; data: unknown; at?: string };
