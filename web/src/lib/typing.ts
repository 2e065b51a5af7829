// "Typing…" both ways in a web chat: the visitor's, shown in the open chat for a few seconds after
// each signal (the widget repeats it every 3 s while its visitor types), and the agent's, sent to
// the visitor while the composer is being written in (never for a note).
import { useEffect, useState } from "react";
import { useQuery, type QueryClient } from "@tanstack/react-query";
import { keys } from "../api/endpoints";

/** How long one "typing" signal is shown: past the widget's 3 s repeat, so it does not flicker. */
export const TYPING_SHOW_MS = 6_000;
/** How often the composer repeats "typing" while its agent types (the widget shows each for 6 s). */
export const TYPING_EVERY_MS = 3_000;

/** Until when (ms) the visitor counts as typing after a `visitor.typing` frame: 0 when stopped. */
export function typingUntil(on: boolean, now: number): number {
  return on ? now + TYPING_SHOW_MS : 0;
}

/** A `visitor.typing` frame (ephemeral: no seq) into the cache the open chat reads. */
export function applyVisitorTyping(client: QueryClient, data: unknown, now = Date.now()): void {
  const { conversation_id: id, on } = (data ?? {}) as { conversation_id?: unknown; on?: unknown };
  if (typeof id !== "string") return;
  client.setQueryData<number>(keys.typing(id), typingUntil(on !== false, now));
}

/** The visitor's message arrived: whatever they were typing is here, so "typing" ends. */
export function clearVisitorTyping(client: QueryClient, conversationId: string): void {
  if (client.getQueryData<number>(keys.typing(conversationId))) client.setQueryData<number>(keys.typing(conversationId), 0);
}

/** Whether the visitor of this chat is typing now; re-renders when the signal runs out. */
export function useVisitorTyping(conversationId: string): boolean {
  // Nothing to fetch: the value only comes from the socket (a resync's refetch answers "not typing").
  const until = useQuery({ queryKey: keys.typing(conversationId), queryFn: () => 0, staleTime: Infinity }).data ?? 0;
  const [, expire] = useState(0);
  const left = until - Date.now();
  useEffect(() => {
    if (left <= 0) return;
    const timer = setTimeout(() => expire((n) => n + 1), left + 20);
    return () => clearTimeout(timer);
  }, [until, left]);
  return left > 0;
}

/** The agent's side: "on" at most once every `everyMs` while there is text, "off" once when the
 * agent stops (the box emptied, a note instead, another chat, a send). After "off", the next
 * keystroke is "on" at once (the server lets an "on" through right after an "off"). */
export class TypingThrottle {
  private lastOn = -Infinity;
  private active = false;

  constructor(private readonly send: (on: boolean) => void, private readonly everyMs = TYPING_EVERY_MS,
    private readonly now: () => number = Date.now) {}

  input(text: string): void {
    if (!text.trim()) return this.stop();
    const at = this.now();
    if (at - this.lastOn < this.everyMs) return;
    this.lastOn = at;
    this.active = true;
    this.send(true);
  }

  stop(): void {
    if (!this.active) return;
    this.active = false;
    this.lastOn = -Infinity;
    this.send(false);
  }
}
