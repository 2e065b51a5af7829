// The inbox's filters live in the address (`?owner=human_only&channel=instagram&tag=<id>&q=maría`),
// so a reload, a bookmark or a shared link shows the same list; the open conversation is in the path.
import type { ChatFilters, HumanFilter } from "../api/endpoints";
import { CHANNELS } from "./channels";

export interface InboxSearch {
  owner?: Exclude<HumanFilter, "all">;
  channel?: string;
  tag?: string;
  q?: string;
  /** The message a search found: the open chat scrolls to it. */
  at?: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function text(value: unknown): string | undefined {
  if (typeof value === "number") return String(value);
  return typeof value === "string" && value.trim() ? value.slice(0, 200) : undefined;
}

/** The address's search parameters as filters; anything unknown or malformed is dropped. */
export function parseInboxSearch(raw: Record<string, unknown>): InboxSearch {
  const out: InboxSearch = {};
  if (raw.owner === "human_only" || raw.owner === "bot_only") out.owner = raw.owner;
  const channel = text(raw.channel);
  if (channel && (CHANNELS as readonly string[]).includes(channel)) out.channel = channel;
  const tag = text(raw.tag);
  if (tag && UUID.test(tag)) out.tag = tag;
  const q = text(raw.q);
  if (q) out.q = q;
  const at = Number(raw.at);
  if (Number.isSafeInteger(at) && at > 0) out.at = at;
  return out;
}

export function filtersOf(search: InboxSearch): ChatFilters {
  return { human_filter: search.owner ?? "all", channel: search.channel ?? "", tag: search.tag ?? "", q: search.q ?? "" };
}

/** The search parameters for these filters (defaults left out, so the plain inbox has a plain address). */
export function searchOf(filters: ChatFilters): InboxSearch {
  const out: InboxSearch = {};
  if (filters.human_filter !== "all") out.owner = filters.human_filter;
  if (filters.channel) out.channel = filters.channel;
  if (filters.tag) out.tag = filters.tag;
  if (filters.q.trim()) out.q = filters.q;
  return out;
}

export function isConversationId(value: unknown): value is string {
  return typeof value === "string" && UUID.test(value);
}
