// What calls an agent back to the inbox: the unread count in the tab's title, a browser
// notification (when the browser allows it) and a short sound (unless turned off) when a
// conversation is handed to a person, or a customer writes in one a person owns.
import type { QueryClient } from "@tanstack/react-query";
import { keys, type ChatPage } from "../api/endpoints";
import type { ChatSummary } from "../api/types";
import type { Paged } from "./cache";
import type { ServerEvent } from "./socket";

export interface Attention {
  kind: "handoff" | "customer";
  row: ChatSummary;
}

/** Events older than this (a reconnect replaying what was missed) call for no one's attention. */
const FRESH_MS = 2 * 60_000;

/** Does this event call for attention? `before` is the conversation's row as the tab knew it. */
export function attentionFor(event: ServerEvent, before: ChatSummary | undefined, now: number): Attention | null {
  if (event.type !== "conversation.updated") return null;
  if (event.at && now - new Date(event.at).getTime() > FRESH_MS) return null;
  const row = event.data as ChatSummary;
  if (!row.is_locked) return null;
  if (before && !before.is_locked) return { kind: "handoff", row };
  // A new customer message moves `last_inbound_at` (unknown before: the newest message is theirs).
  const wrote = before ? !!row.last_inbound_at && row.last_inbound_at !== before.last_inbound_at
    : !!row.last_inbound_at && row.last_inbound_at === row.timestamp && row.unread_count > 0;
  return wrote ? { kind: "customer", row } : null;
}

/** The tab's title with the count of conversations waiting to be read in front. */
export function titleWithUnread(base: string, conversations: number): string {
  return conversations > 0 ? `(${conversations > 99 ? "99+" : conversations}) ${base}` : base;
}

export const SOUND_KEY = "tertulia.sound";

export function soundOn(): boolean {
  try {
    return localStorage.getItem(SOUND_KEY) !== "off";
  } catch {
    return true;
  }
}

export function setSoundOn(on: boolean): void {
  try {
    localStorage.setItem(SOUND_KEY, on ? "on" : "off");
  } catch {
    // a browser that keeps nothing: the choice lasts this page
  }
}

let audio: AudioContext | null = null;

/** Two soft rising notes made on the spot (Web Audio): no file to download. */
export function playChime(): void {
  const Context = typeof window === "undefined" ? undefined
    : window.AudioContext ?? (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
  if (!Context) return;
  try {
    audio = audio ?? new Context();
    if (audio.state === "suspended") void audio.resume();
    const start = audio.currentTime + 0.01;
    [660, 880].forEach((frequency, i) => {
      const at = start + i * 0.16;
      const tone = audio!.createOscillator();
      const gain = audio!.createGain();
      tone.type = "sine";
      tone.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.18, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.22);
      tone.connect(gain).connect(audio!.destination);
      tone.start(at);
      tone.stop(at + 0.25);
    });
  } catch {
    // no sound rather than an error
  }
}

type Listener = (attention: Attention) => void;
const listeners = new Set<Listener>();

/** The inbox listens while it is shown (it knows which chat is open and how to open another). */
export function onAttention(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function callAttention(attention: Attention): void {
  for (const listener of listeners) listener(attention);
}

/** The conversation's row as the tab knows it: the open chat's, else any loaded list's. */
function knownRow(client: QueryClient, id: string): ChatSummary | undefined {
  const open = client.getQueryData<ChatSummary>(keys.chat(id));
  if (open) return open;
  for (const [, data] of client.getQueriesData<Paged<ChatPage>>({ queryKey: keys.chatsRoot })) {
    const found = data?.pages.flatMap((p) => p.rows).find((r) => r.id === id);
    if (found) return found;
  }
  return undefined;
}

let unreadTimer: ReturnType<typeof setTimeout> | null = null;

/** Called with each event before it is folded into the caches (which would forget the row's old
 *  state): calls for attention, and has the unread count asked again (once for a burst). */
export function noticeEvent(client: QueryClient, event: ServerEvent): void {
  if (event.type !== "conversation.updated") return;
  const row = event.data as ChatSummary;
  const attention = attentionFor(event, knownRow(client, row.id), Date.now());
  if (attention) callAttention(attention);
  if (unreadTimer === null) {
    unreadTimer = setTimeout(() => {
      unreadTimer = null;
      void client.invalidateQueries({ queryKey: keys.unread });
    }, 500);
  }
}
