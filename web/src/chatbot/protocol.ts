// The panel chatbot's socket protocol (`/ws/chat`, seed 002): frames, the conversation as the
// drawer shows it, and how long to wait before reconnecting. Pure functions, tested alone.

export type ChatRole = "user" | "assistant";

export interface Attachment {
  name: string;
  path: string;
}

export interface ToolResult {
  status?: string;
  docx?: string | null;
  pdf?: string | null;
  map?: string | null;
  csv?: string | null;
  summary?: string;
  [key: string]: unknown;
}

export interface ChatItem {
  key: string;
  role: ChatRole;
  content: string;
  attachments?: Attachment[];
  tool?: string | null;
  result?: ToolResult | null;
  /** The error code (`WS_BAD_REQUEST`, `FILE_NOT_FOUND`...) when the turn failed. */
  code?: string | null;
  /** Still streaming. */
  streaming?: boolean;
}

export interface HistoryMessage {
  id: number;
  role: string;
  content: string;
  created_at: string;
  attachments?: Attachment[];
  metadata?: { tool?: string; result?: ToolResult; code?: string };
}

export type ServerFrame =
  | { type: "history_snapshot"; session_id?: number; messages: HistoryMessage[] }
  | { type: "assistant_delta"; content: string }
  | { type: "assistant_done"; content: string; metadata?: { result?: unknown; tool?: string | null } }
  | { type: "error"; content?: string; metadata?: { code?: string } }
  | { type: "pong" };

export interface Conversation {
  sessionId: number | null;
  items: ChatItem[];
  /** A turn is under way (the composer waits for it). */
  busy: boolean;
}

export const emptyConversation: Conversation = { sessionId: null, items: [], busy: false };

export const CLOSE_UNAUTHORIZED = 4401;

/** The original panel's reconnect delay: min(2^min(n,6) · 400 ms + up to 250 ms of jitter, 15 s). */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  return Math.min(2 ** Math.min(attempt, 6) * 400 + random() * 250, 15_000);
}

export function chatUrl(location: { protocol: string; host: string }): string {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/chat`;
}

function asResult(value: unknown): ToolResult | null {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as ToolResult) : null;
}

export function fromHistory(m: HistoryMessage): ChatItem {
  return {
    key: `h${m.id}`,
    role: m.role === "user" ? "user" : "assistant",
    content: m.content,
    attachments: m.attachments,
    tool: m.metadata?.tool ?? null,
    result: asResult(m.metadata?.result),
    code: m.metadata?.code ?? null,
  };
}

let localKeys = 0;
const nextKey = (prefix: string) => `${prefix}${++localKeys}`;

/** The person's own message, shown at once. */
export function addUserMessage(state: Conversation, content: string, attachments: Attachment[]): Conversation {
  return {
    ...state,
    busy: true,
    items: [...state.items, { key: nextKey("u"), role: "user", content, attachments }],
  };
}

/** The conversation after one server frame. */
export function applyFrame(state: Conversation, frame: ServerFrame): Conversation {
  const items = state.items;
  const last = items[items.length - 1];
  const streaming = last && last.role === "assistant" && last.streaming ? last : null;
  switch (frame.type) {
    case "history_snapshot":
      return { sessionId: frame.session_id ?? null, items: frame.messages.map(fromHistory), busy: false };
    case "assistant_delta":
      if (streaming) {
        return { ...state, items: [...items.slice(0, -1), { ...streaming, content: streaming.content + frame.content }] };
      }
      return {
        ...state,
        busy: true,
        items: [...items, { key: nextKey("a"), role: "assistant", content: frame.content, streaming: true }],
      };
    case "assistant_done": {
      const done: ChatItem = {
        key: streaming?.key ?? nextKey("a"),
        role: "assistant",
        content: frame.content,
        tool: frame.metadata?.tool ?? null,
        result: asResult(frame.metadata?.result),
      };
      return { ...state, busy: false, items: streaming ? [...items.slice(0, -1), done] : [...items, done] };
    }
    case "error": {
      const failed: ChatItem = {
        key: streaming?.key ?? nextKey("e"),
        role: "assistant",
        content: frame.content ?? "",
        code: frame.metadata?.code ?? "WS_INTERNAL_ERROR",
      };
      return { ...state, busy: false, items: streaming ? [...items.slice(0, -1), failed] : [...items, failed] };
    }
    default:
      return state;
  }
}

/** The files a tool produced, in the order the drawer shows them. */
export function resultLinks(result: ToolResult | null | undefined): { kind: "docx" | "pdf" | "map" | "csv"; url: string }[] {
  if (!result) return [];
  const kinds = ["docx", "pdf", "map", "csv"] as const;
  return kinds.flatMap((kind) => {
    const url = result[kind];
    return typeof url === "string" && url.startsWith("/") ? [{ kind, url }] : [];
  });
}
