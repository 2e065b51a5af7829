// WhatsApp's 24-hour window: a business writes freely within 24 hours of the customer's last
// message (the provider's time of when they wrote), and afterwards only with an approved template.
import type { ChatSummary } from "../api/types";
import type { Translate } from "../i18n";

export const WINDOW_MS = 24 * 60 * 60 * 1000;
/** Under this much time left the header warns. */
export const WINDOW_WARNING_MS = 60 * 60 * 1000;

export type WindowState =
  /** Not a WhatsApp conversation: no window. */
  | { kind: "none" }
  | { kind: "open"; closesAt: number; leftMs: number; warning: boolean }
  /** `closedAt` null: the customer never wrote on this number. */
  | { kind: "closed"; closedAt: number | null };

type WindowRow = Pick<ChatSummary, "channel_source" | "last_inbound_at"> & { window_open_until?: string | null };

/** The window of a conversation now: the server's `window_open_until` when it says, else 24 h after
 * the customer's last message. */
export function windowState(row: WindowRow, now: number): WindowState {
  if (row.channel_source !== "whatsapp") return { kind: "none" };
  const closes = row.window_open_until ? Date.parse(row.window_open_until)
    : row.last_inbound_at ? Date.parse(row.last_inbound_at) + WINDOW_MS : NaN;
  if (Number.isNaN(closes)) return { kind: "closed", closedAt: null };
  if (closes <= now) return { kind: "closed", closedAt: closes };
  const leftMs = closes - now;
  return { kind: "open", closesAt: closes, leftMs, warning: leftMs < WINDOW_WARNING_MS };
}

/** Time left, as a person says it: "23 h 05 min", "45 min", "menos de 1 min". */
export function formatLeft(ms: number, t: Translate): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return t("window.underMinute");
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours === 0) return t("window.minutes", { m: rest });
  return t("window.hours", { h: hours, m: String(rest).padStart(2, "0") });
}

/** How often the countdown must refresh to stay right to the minute. */
export function refreshEvery(state: WindowState): number {
  return state.kind === "open" && state.leftMs < 2 * 60_000 ? 1_000 : 30_000;
}
