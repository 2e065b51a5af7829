// The composer's logic apart from its looks: the `/` shortcut under the caret, filtering canned
// responses, inserting text at the caret, what a file may be, and drafts kept per conversation.
import type { CannedResponse } from "../api/types";

/** The `/shortcut` being typed where the caret is (at the start or after a space), if any. */
export function slashQuery(text: string, caret: number): { start: number; query: string } | null {
  const before = text.slice(0, caret);
  const match = /(^|\s)\/([a-z0-9_-]{0,32})$/i.exec(before);
  if (!match) return null;
  return { start: caret - match[2].length - 1, query: match[2].toLowerCase() };
}

/** Canned responses for a query: shortcuts that start with it first, then those that contain it
 * in their shortcut or title. */
export function filterCanned(list: readonly CannedResponse[], query: string): CannedResponse[] {
  const q = query.toLowerCase();
  const starts = list.filter((c) => c.shortcut.startsWith(q));
  const contains = list.filter((c) => !c.shortcut.startsWith(q)
    && (c.shortcut.includes(q) || c.title.toLowerCase().includes(q)));
  return [...starts, ...contains];
}

/** `insert` in place of text[start, end): the new text and where the caret goes. */
export function insertAt(text: string, start: number, end: number, insert: string): { text: string; caret: number } {
  return { text: text.slice(0, start) + insert + text.slice(end), caret: start + insert.length };
}

// --- files ---------------------------------------------------------------------------------------
const MB = 1024 * 1024;
/** WhatsApp's limits per kind (the server checks them again, by the file's content). */
export const FILE_LIMITS = { image: 5 * MB, video: 16 * MB, audio: 16 * MB, document: 100 * MB } as const;
export type FileKind = keyof typeof FILE_LIMITS;
const DOCUMENT_SUFFIXES = /\.(pdf|docx?|xlsx?|pptx?|txt|csv|zip)$/i;
export const ACCEPT = "image/jpeg,image/png,image/webp,video/mp4,video/3gpp,audio/*,.pdf,.doc,.docx,.xls,.xlsx,.ppt,.pptx,.txt,.csv,.zip";

/** What a chosen file would be sent as, or why it cannot be: told early, before its upload. */
export function checkFile(file: { name: string; type: string; size: number }):
  { ok: true; kind: FileKind } | { ok: false; reason: "type" | "size"; kind?: FileKind; limit?: number } {
  const type = file.type.toLowerCase();
  let kind: FileKind | null = null;
  if (/^image\/(jpeg|png|webp)$/.test(type)) kind = "image";
  else if (/^video\/(mp4|3gpp|webm)$/.test(type)) kind = "video";
  else if (type.startsWith("audio/")) kind = "audio";
  else if (DOCUMENT_SUFFIXES.test(file.name) || type === "application/pdf" || type === "text/plain") kind = "document";
  if (!kind) return { ok: false, reason: "type" };
  if (file.size > FILE_LIMITS[kind]) return { ok: false, reason: "size", kind, limit: FILE_LIMITS[kind] };
  return { ok: true, kind };
}

// --- drafts --------------------------------------------------------------------------------------
const DRAFT_PREFIX = "tertulia.draft";

export function draftKey(tenantId: string, conversationId: string): string {
  return `${DRAFT_PREFIX}.${tenantId}.${conversationId}`;
}

interface StoredDraft {
  text: string;
  mode: "reply" | "note";
}

type DraftStore = Pick<Storage, "getItem" | "setItem" | "removeItem">;

function browserStore(): DraftStore | null {
  return typeof localStorage === "undefined" ? null : localStorage;
}

export function loadDraft(key: string, store: DraftStore | null = browserStore()): StoredDraft | null {
  try {
    const raw = store?.getItem(key);
    if (!raw) return null;
    const value = JSON.parse(raw) as Partial<StoredDraft>;
    if (typeof value.text !== "string" || !value.text) return null;
    return { text: value.text, mode: value.mode === "note" ? "note" : "reply" };
  } catch {
    return null; // no storage (private mode) or a damaged value: start empty
  }
}

/** Keep a draft (an empty one removes it). */
export function saveDraft(key: string, draft: StoredDraft, store: DraftStore | null = browserStore()): void {
  try {
    if (draft.text.trim()) store?.setItem(key, JSON.stringify(draft));
    else store?.removeItem(key);
  } catch {
    // storage full or refused: the draft lives on screen only
  }
}
