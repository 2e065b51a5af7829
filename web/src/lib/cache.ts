// Pure functions that fold server events into the cached lists, so each event costs no request.
import type { ChatFilters, ChatPage } from "../api/endpoints";
import type { ChatSummary, Contact, Message, Tag } from "../api/types";
import { fold } from "./highlight";

export interface Paged<T> {
  pages: T[];
  pageParams: unknown[];
}

/** Does the search `q` find this row by its contact? Mirrors the server (conversations/search.py):
 *  the name ignoring case and accents, the phone by the digits of something typed as a phone. */
export function matchesContact(row: ChatSummary, q: string): boolean {
  const text = fold(q.trim());
  if (!text) return true;
  if (fold(row.display_name).includes(text)) return true;
  const digits = /^[\d\s\-+().]+$/.test(text) ? text.replace(/\D/g, "") : "";
  return !!digits && row.customer_phone.replace(/\D/g, "").includes(digits);
}

/** Does this row belong in a list loaded with these filters? Mirrors the server's filters, but for
 *  the words of messages, which an event does not carry: a row the search found by a message
 *  (`listed` with a `match`) stays. */
export function matchesFilters(row: ChatSummary, filters: ChatFilters, listed?: ChatSummary): boolean {
  if (filters.human_filter === "human_only" && !row.is_locked) return false;
  if (filters.human_filter === "bot_only" && row.is_locked) return false;
  if (filters.channel && row.channel_source !== filters.channel) return false;
  if (filters.tag && !row.tags.some((t) => t.id === filters.tag)) return false;
  return matchesContact(row, filters.q) || !!listed?.match;
}

function newerFirst(a: ChatSummary, b: ChatSummary): number {
  const d = new Date(b.timestamp).getTime() - new Date(a.timestamp).getTime();
  return d !== 0 ? d : b.id < a.id ? -1 : b.id > a.id ? 1 : 0;
}

/**
 * A conversation changed: take its old row out and, when it still matches the filters, put the new
 * row where its last message time puts it (a new message moves it to the top). A row that would sort
 * after everything loaded while more pages exist is left for those pages to bring.
 */
export function upsertChatRow(data: Paged<ChatPage> | undefined, row: ChatSummary, filters: ChatFilters):
  Paged<ChatPage> | undefined {
  if (!data) return data;
  const listed = data.pages.flatMap((p) => p.rows).find((r) => r.id === row.id);
  // An event's row knows nothing of the search: the message it was found by stays with it.
  if (listed?.match && !row.match && filters.q.trim()) row = { ...row, match: listed.match };
  const pages = data.pages.map((p) => ({ ...p, rows: p.rows.filter((r) => r.id !== row.id) }));
  if (matchesFilters(row, filters, listed)) {
    let placed = false;
    for (const page of pages) {
      const index = page.rows.findIndex((r) => newerFirst(row, r) < 0);
      if (index >= 0) {
        page.rows.splice(index, 0, row);
        placed = true;
        break;
      }
    }
    const last = pages[pages.length - 1];
    if (!placed && last && (!last.nextCursor || pages.every((p) => p.rows.length === 0))) last.rows.push(row);
    if (!placed && pages.length === 0) pages.push({ rows: [row], nextCursor: null });
  }
  return { ...data, pages };
}

/** Patch a row in place wherever it is (e.g. unread reset), without moving it. */
export function patchChatRow(data: Paged<ChatPage> | undefined, id: string, patch: Partial<ChatSummary>):
  Paged<ChatPage> | undefined {
  if (!data) return data;
  let changed = false;
  const pages = data.pages.map((p) => {
    if (!p.rows.some((r) => r.id === id)) return p;
    changed = true;
    return { ...p, rows: p.rows.map((r) => (r.id === id ? { ...r, ...patch } : r)) };
  });
  return changed ? { ...data, pages } : data;
}

export function flattenChats(data: Paged<ChatPage> | undefined): ChatSummary[] {
  if (!data) return [];
  const seen = new Set<string>();
  const out: ChatSummary[] = [];
  for (const page of data.pages) {
    for (const row of page.rows) {
      if (!seen.has(row.id)) {
        seen.add(row.id);
        out.push(row);
      }
    }
  }
  return out;
}

export interface MessageWindow {
  messages: Message[];
  /** false once a page back came shorter than asked: nothing older exists. */
  hasOlder: boolean;
}

/** Merge messages (a new one, a page back, a delta) by id, oldest first; a later copy wins. */
export function mergeMessages(current: Message[], incoming: Message[]): Message[] {
  if (incoming.length === 0) return current;
  const byId = new Map<number, Message>();
  for (const m of current) byId.set(m.id, m);
  for (const m of incoming) byId.set(m.id, m);
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

export function addMessage(window: MessageWindow | undefined, message: Message): MessageWindow | undefined {
  if (!window) return window;
  return { ...window, messages: mergeMessages(window.messages, [message]) };
}

/** A message changed (a status, a reaction, a file fetched): replaced where it is loaded. One not
 * loaded is left alone, so an older page is never dropped in with a gap before it. */
export function replaceMessage(window: MessageWindow | undefined, message: Message): MessageWindow | undefined {
  if (!window || !window.messages.some((m) => m.id === message.id)) return window;
  return { ...window, messages: window.messages.map((m) => (m.id === message.id ? message : m)) };
}

// ---- tags: an edit or deletion shows up on every row and contact carrying the tag ----

function retag(tags: Tag[], tag: Tag, deleted: boolean): Tag[] {
  if (!tags.some((t) => t.id === tag.id)) return tags;
  return deleted ? tags.filter((t) => t.id !== tag.id) : tags.map((t) => (t.id === tag.id ? tag : t));
}

export function retagChats(data: Paged<ChatPage> | undefined, tag: Tag, deleted: boolean):
  Paged<ChatPage> | undefined {
  if (!data) return data;
  return {
    ...data,
    pages: data.pages.map((p) => ({ ...p, rows: p.rows.map((r) => ({ ...r, tags: retag(r.tags, tag, deleted) })) })),
  };
}

export function retagContact(contact: Contact | undefined, tag: Tag, deleted: boolean): Contact | undefined {
  return contact ? { ...contact, tags: retag(contact.tags, tag, deleted) } : contact;
}

export function upsertTag(tags: Tag[] | undefined, tag: Tag, deleted: boolean): Tag[] | undefined {
  if (!tags) return tags;
  const rest = tags.filter((t) => t.id !== tag.id);
  if (deleted) return rest;
  return [...rest, tag].sort((a, b) => a.name.localeCompare(b.name));
}

/** The active tag of seed 000: the most recently applied one (the server lists those first). */
export function activeTag(tags: Tag[]): Tag | undefined {
  return tags[0];
}
