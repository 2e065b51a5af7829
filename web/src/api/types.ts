// The server's JSON shapes, generated from its OpenAPI document into schema.d.ts
// (`make api-types`; `make test` fails while that file and the server disagree).
import type { components } from "./schema";

type Schemas = components["schemas"];

export type ChannelSource = "whatsapp" | "instagram" | "facebook" | "web" | "api";
export type Tag = Schemas["TagOut"];
// `window_open_until` (WhatsApp's 24-hour window) is being added to the server's row beside this
// screen: optional here until `make api-types` brings it.
export type ChatSummary = Schemas["ChatSummary"] & { window_open_until?: string | null };
// The response schema leaves a message's attachments as free-form objects; they are the
// attachment shape the inbound API takes (type, url, filename?, mime_type?, size?, a file still at
// the provider: status pending, then ready, or failed with `error_code` and `error`).
export type Attachment = Schemas["Attachment"] & { error_code?: string | null };
/** A reaction shown under the message it reacts to: the customer's and the business's, one each. */
export interface Reaction {
  emoji: string;
  by: "contact" | "business";
  at: string;
}
export type Message = Omit<Schemas["MessageOut"], "attachments" | "reactions"> & {
  attachments?: Attachment[];
  reactions?: Reaction[];
};
export type MessageAuthor = Message["author"];
export type Identity = Schemas["IdentityOut"];
export type Contact = Schemas["ContactOut"];
export type ContactUpdate = Schemas["ContactUpdate"];
export type TenantRef = Schemas["TenantOut"];
export type Session = Schemas["SessionOut"];
export type SendResult = Omit<Schemas["SendResult"], "message"> & { message: Message };
export type ChatSummaryText = Schemas["SummaryOut"];
export type ConversationAnswering = Schemas["ConversationAnswering"];
export type UnreadCount = Schemas["UnreadCount"];
export type AiTrace = Schemas["TraceOut"];
export type Assistant = Schemas["AssistantOut"];
export type AssistantCreate = Schemas["AssistantCreate"];
export type AssistantUpdate = Schemas["AssistantUpdate"];
export type KnowledgeEntry = Schemas["KnowledgeOut"];
export type KnowledgeCreate = Schemas["KnowledgeCreate"];
export type KnowledgeHit = Schemas["KnowledgeHit"];
export type TryMessage = Schemas["TryMessage"];
export type TryResult = Schemas["TryResult"];
export type ToolInfo = Schemas["ToolOut"];
export type McpServer = Schemas["McpServerOut"];
export type McpServerCreate = Schemas["McpServerCreate"];
export type McpTool = Schemas["McpToolOut"];
export type Member = Schemas["MemberOut"];
export type MemberCreate = Schemas["MemberCreate"];
export type Role = Schemas["MemberUpdate"]["role"];
export type ApiToken = Schemas["TokenOut"];
export type ApiTokenCreated = Schemas["TokenCreated"];
export type TenantSettings = Schemas["TenantSettingsOut"];
export type Channel = Schemas["ChannelOut"];
export type ChannelCreate = Schemas["ChannelCreate"];
export type ChannelCreated = Schemas["ChannelCreated"];
export type ChannelUpdate = Schemas["ChannelUpdate"];
export type ChannelKindInfo = Schemas["ChannelKindOut"];
export type ChannelCheck = Schemas["ChannelCheck"];
export type CheckItem = Schemas["CheckItem"];
export type TemplateSync = Schemas["SyncResult"];
export type TenantSettingsUpdate = Schemas["TenantSettingsUpdate"];
export type CannedResponse = Schemas["CannedResponseOut"];
export type UploadedMedia = Schemas["MediaOut"];
export type OutboundAttachment = Schemas["OutboundAttachment"];
export type CannedResponseCreate = Schemas["CannedResponseCreate"];
export type CannedResponseUpdate = Schemas["CannedResponseUpdate"];

/** Every frame the event socket sends (a WebSocket protocol: not in the OpenAPI document). */
export type EventFrame =
  | { type: "hello"; seq: number }
  | { type: "resync"; seq?: number }
  | { type: "ping" }
  | { type: "error"; code?: string; message?: string }
  | { seq: number; type: string; data: unknown; at?: string }
  // Ephemeral (`visitor.typing`): no seq, never stored, never replayed.
  | { type: string; data: unknown };

// ---- WhatsApp templates and message retries -----------------------------------------------------
// LOCAL SHAPES, until the template and retry endpoints (being built beside this screen) are in the
// server's OpenAPI document: after the merge, `make api-types` and replace these with
// Schemas["TemplateOut"], Schemas["TemplateSendRequest"], Schemas["TemplateSendResult"].

/** A button of a template and what a send gives it (a URL's suffix, a coupon code, a payload). */
export interface TemplateButton {
  index: number;
  type: string;
  text: string;
  url?: string | null;
  parameter?: "text" | "payload" | "coupon_code" | null;
}

/** What a send of a template takes, as the server reads it from the components. */
export interface TemplateParameters {
  format: "POSITIONAL" | "NAMED";
  body: string[];
  header?: "text" | "image" | "video" | "document" | "location" | null;
  header_text_parameters?: string[];
  buttons?: TemplateButton[];
}

export interface TemplateComponent {
  type: string;
  format?: string;
  text?: string;
  buttons?: { type: string; text: string; url?: string }[];
  example?: Record<string, unknown>;
}

export interface Template {
  id: string;
  channel_id: string;
  name: string;
  language: string;
  status: string;
  category: string;
  parameter_format: string;
  components: TemplateComponent[];
  removed_at?: string | null;
  rejected_reason?: string | null;
  parameters?: TemplateParameters;
}

export interface TemplateSendRequest {
  conversation_id: string;
  template_id: string;
  parameters: string[];
  named_parameters?: Record<string, string>;
  header?: { type: "text" | "image" | "video" | "document"; text?: string; url?: string };
  buttons?: { index: number; parameter: string }[];
}

export interface TemplateSendResult {
  status: "queued";
  conversation_id: string;
  message_id: number;
  message: Message;
}

/** A closed 24-hour window's 409 (`window_closed`): when it closed and what may go instead. */
export interface WindowClosedInfo {
  closed_at?: string | null;
  templates?: { id: string; name: string; language: string; category?: string }[];
}
