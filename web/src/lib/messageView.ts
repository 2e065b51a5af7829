// What a chat bubble shows of a message, by its kind: pure functions over the server's message, so
// the rules (which kind shows what, which status shows which tick) are tested without a browser.
import type { Attachment, Message, Reaction } from "../api/types";
import type { MessageKey } from "../i18n";

export interface LocationView {
  latitude: number;
  longitude: number;
  name?: string;
  address?: string;
  /** A map of the place (OpenStreetMap: no third-party script, just a link). */
  mapUrl: string;
}

export interface SharedContactView {
  name: string;
  phones: string[];
  emails: string[];
}

/** A customer's tap on a button or a list (interactive replies, a template's quick reply). */
export interface ChoiceView {
  /** `chose`: a reply button or a list row; `pressed`: a template's quick-reply button; `form`: a Flow answered. */
  how: "chose" | "pressed" | "form";
  title: string;
  description?: string;
}

export type BodyView =
  | { kind: "text" }
  | { kind: "location"; location: LocationView }
  | { kind: "contacts"; contacts: SharedContactView[] }
  | { kind: "choice"; choice: ChoiceView }
  /** Something the provider could not pass on: a note saying what arrived. */
  | { kind: "unsupported"; what: string | null };

function record(value: unknown): Record<string, unknown> {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() ? value.trim() : undefined;
}

function number(value: unknown): number | undefined {
  const n = typeof value === "string" ? Number(value) : value;
  return typeof n === "number" && Number.isFinite(n) ? n : undefined;
}

export function mapUrl(latitude: number, longitude: number): string {
  return `https://www.openstreetmap.org/?mlat=${latitude}&mlon=${longitude}#map=17/${latitude}/${longitude}`;
}

function location(extra: Record<string, unknown>): LocationView | null {
  const loc = record(extra.location);
  const latitude = number(loc.latitude);
  const longitude = number(loc.longitude);
  if (latitude === undefined || longitude === undefined) return null;
  return { latitude, longitude, name: text(loc.name), address: text(loc.address), mapUrl: mapUrl(latitude, longitude) };
}

/** WhatsApp's shared contact cards (`name.formatted_name`, `phones[].phone`, `emails[].email`). */
function contacts(extra: Record<string, unknown>): SharedContactView[] {
  const list = Array.isArray(extra.contacts) ? extra.contacts : [];
  return list.map((item) => {
    const c = record(item);
    const name = record(c.name);
    const full = text(name.formatted_name)
      ?? [text(name.first_name), text(name.last_name)].filter(Boolean).join(" ");
    const phones = (Array.isArray(c.phones) ? c.phones : []).map((p) => text(record(p).phone)).filter(
      (p): p is string => !!p);
    const emails = (Array.isArray(c.emails) ? c.emails : []).map((e) => text(record(e).email)).filter(
      (e): e is string => !!e);
    return { name: full || phones[0] || "?", phones, emails };
  });
}

function choice(message: Message, extra: Record<string, unknown>): ChoiceView {
  const reply = record(extra.reply);
  const type = text(reply.type);
  const title = text(reply.title) ?? text(reply.text) ?? text(reply.payload) ?? message.content;
  if (message.kind === "button" || type === "button") return { how: "pressed", title };
  if (type === "nfm_reply") return { how: "form", title: message.content || title };
  return { how: "chose", title, description: text(reply.description) };
}

/** What the bubble's body is, beside its files: the structured kinds fall back to the text when
 * what they carry is missing (an older message, another channel). */
export function bodyView(message: Message): BodyView {
  const extra = record(message.extra);
  switch (message.kind) {
    case "location": {
      const loc = location(extra);
      return loc ? { kind: "location", location: loc } : { kind: "text" };
    }
    case "contacts": {
      const shared = contacts(extra);
      return shared.length ? { kind: "contacts", contacts: shared } : { kind: "text" };
    }
    case "interactive":
    case "button":
      return { kind: "choice", choice: choice(message, extra) };
    case "unsupported": {
      const unsupported = record(extra.unsupported);
      // A WhatsApp system message (the customer changed number...) has words of its own.
      if (unsupported.type === "system") return { kind: "text" };
      return { kind: "unsupported", what: text(unsupported.type) ?? null };
    }
    default:
      return { kind: "text" };
  }
}

/** The text shown in the bubble (a caption, a message): none for kinds whose body says it all. */
export function shownText(message: Message, body: BodyView = bodyView(message)): string {
  if (body.kind !== "text") return "";
  return message.content;
}

export type FileState = "ready" | "pending" | "failed";

export function fileState(a: Attachment): FileState {
  if (a.status === "pending" || a.status === "failed") return a.status;
  return a.url ? "ready" : "pending";
}

/** How a file is named to a person ("Nota de voz", "Sticker"...). */
export function fileLabel(a: Attachment): MessageKey {
  if (a.type === "audio" && a.voice) return "file.voice";
  if (a.type === "image" && a.sticker) return "file.sticker";
  return `file.${a.type}` as MessageKey;
}

/** Why a file could not be had, in the reader's words (by its code; a general one otherwise). */
export function fileErrorKey(a: Attachment, known: (key: string) => boolean): MessageKey {
  const key = `error.${a.error_code ?? ""}`;
  return a.error_code && known(key) ? (key as MessageKey) : "file.failed";
}

export interface DeliveryMark {
  icon: "clock" | "check" | "double" | "alert";
  /** Read and played show blue ticks, as WhatsApp does. */
  tone: "muted" | "read" | "failed";
  label: MessageKey;
}

/** The ticks of a message we sent: ✓ sent, ✓✓ delivered, blue ✓✓ read (or a voice note played),
 * ⚠ failed; a clock while queued. None for what customers send. */
export function deliveryMark(message: Pick<Message, "author" | "status">): DeliveryMark | null {
  if (message.author === "contact" || message.author === "system") return null;
  switch (message.status) {
    case "queued":
      return { icon: "clock", tone: "muted", label: "status.queued" };
    case "sent":
      return { icon: "check", tone: "muted", label: "status.sent" };
    case "delivered":
      return { icon: "double", tone: "muted", label: "status.delivered" };
    case "read":
      return { icon: "double", tone: "read", label: "status.read" };
    case "played":
      return { icon: "double", tone: "read", label: "status.played" };
    case "failed":
      return { icon: "alert", tone: "failed", label: "status.failed" };
    default:
      return null;
  }
}

/** Who reacted with what, the customer's first. */
export function reactionsOf(message: Pick<Message, "reactions">): Reaction[] {
  const list = (message.reactions ?? []).filter((r) => r && typeof r.emoji === "string" && r.emoji);
  return [...list].sort((a, b) => (a.by === b.by ? 0 : a.by === "contact" ? -1 : 1));
}

/** A line that stands for a message where it is quoted (its text, else what it is). */
export function quoteText(message: Message): { text: string } | { key: MessageKey } {
  const body = bodyView(message);
  if (body.kind === "location") return { text: `📍 ${body.location.name ?? body.location.address ?? ""}`.trim() };
  if (body.kind === "contacts") return { text: `👤 ${body.contacts.map((c) => c.name).join(", ")}` };
  if (body.kind === "choice") return { text: body.choice.title };
  const words = message.content.split(/\s+/).filter(Boolean).join(" ");
  if (words) return { text: words.length > 140 ? `${words.slice(0, 139)}…` : words };
  const file = message.attachments?.[0];
  return { key: file ? fileLabel(file) : "chat.message" };
}

/** Came from a click-to-WhatsApp ad: its headline (or source) to say so on the message. */
export function referralOf(message: Message): { headline?: string; url?: string } | null {
  const referral = record(record(message.extra).referral);
  if (!Object.keys(referral).length) return null;
  const url = text(referral.source_url);
  return { headline: text(referral.headline) ?? text(referral.body), url: url?.startsWith("https://") ? url : undefined };
}

export function isForwarded(message: Message): boolean {
  return !!record(message.extra).forwarded;
}

/** What an edited message said first (kept for the team). */
export function originalText(message: Message): string | undefined {
  return message.edited_at ? text(record(message.extra).original) : undefined;
}

/** A template we sent: its name and the buttons the customer saw under it. */
export function templateOf(message: Message): { name: string; buttons: string[] } | null {
  if (message.kind !== "template") return null;
  const template = record(record(message.extra).template);
  const name = text(template.name);
  if (!name) return null;
  const buttons = (Array.isArray(template.buttons) ? template.buttons : []).map((b) => text(record(b).text)).filter(
    (b): b is string => !!b);
  return { name, buttons };
}
