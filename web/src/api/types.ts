// The server's JSON shapes, generated from its OpenAPI document into schema.d.ts
// (`make api-types`; `make test` fails while that file and the server disagree).
import type { components } from "./schema";

type Schemas = components["schemas"];

export type ChannelSource = "whatsapp" | "instagram" | "facebook" | "web" | "api";
export type Tag = Schemas["TagOut"];
export type ChatSummary = Schemas["ChatSummary"];
export type Attachment = Schemas["Attachment"];
// The response schema leaves a message's attachments as free-form objects; they are the
// attachment shape the inbound API takes (type, url, filename?, mime_type?, size?).
export type Message = Omit<Schemas["MessageOut"], "attachments"> & { attachments?: Attachment[] };
export type MessageAuthor = Message["author"];
export type Identity = Schemas["IdentityOut"];
export type Contact = Schemas["ContactOut"];
export type ContactUpdate = Schemas["ContactUpdate"];
export type TenantRef = Schemas["TenantOut"];
export type Session = Schemas["SessionOut"];
export type SendResult = Omit<Schemas["SendResult"], "message"> & { message: Message };
export type ChatSummaryText = Schemas["SummaryOut"];
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
export type TenantSettingsUpdate = Schemas["TenantSettingsUpdate"];

/** Every frame the event socket sends (a WebSocket protocol: not in the OpenAPI document). */
export type EventFrame =
  | { type: "hello"; seq: number }
  | { type: "resync"; seq?: number }
  | { type: "ping" }
  | { type: "error"; code?: string; message?: string }
  | { seq: number; type: string; data: unknown; at?: string };
