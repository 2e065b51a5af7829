import { describe, expect, it } from "vitest";
import type { Message } from "../api/types";
import { dictionaries } from "../i18n";
import {
  bodyView, deliveryMark, fileErrorKey, fileLabel, fileState, mapUrl, quoteText, reactionsOf, referralOf, shownText,
  templateOf,
} from "./messageView";

function msg(extra: Partial<Message> = {}): Message {
  return {
    id: 1, conversation_id: "c", sender: "user", author: "contact", content: "", timestamp: "2026-03-15T10:00:00Z",
    status: "received", attachments: [], ...extra,
  };
}

const known = (key: string) => Object.hasOwn(dictionaries.es, key);

describe("bodyView: what a bubble shows of each kind", () => {
  it("shows a location's name, address and a map link instead of its text", () => {
    const m = msg({ kind: "location", content: "📍 Café Aurora · Calle Mayor 1 · https://...",
      extra: { location: { latitude: 19.43, longitude: -99.13, name: "Café Aurora", address: "Calle Mayor 1" } } });
    const body = bodyView(m);
    expect(body).toEqual({ kind: "location", location: { latitude: 19.43, longitude: -99.13, name: "Café Aurora",
      address: "Calle Mayor 1", mapUrl: mapUrl(19.43, -99.13) } });
    expect(mapUrl(19.43, -99.13)).toBe("https://www.openstreetmap.org/?mlat=19.43&mlon=-99.13#map=17/19.43/-99.13");
    expect(shownText(m, body)).toBe("");
  });

  it("falls back to the text when a location carries no coordinates", () => {
    const m = msg({ kind: "location", content: "📍 somewhere", extra: {} });
    expect(bodyView(m)).toEqual({ kind: "text" });
    expect(shownText(m)).toBe("📍 somewhere");
  });

  it("lists shared contacts with their phones and emails", () => {
    const m = msg({ kind: "contacts", extra: { contacts: [
      { name: { formatted_name: "Diego Ruiz" }, phones: [{ phone: "+52 55 1234 5678", type: "CELL" }],
        emails: [{ email: "diego@example.com" }] },
      { name: { first_name: "Ana", last_name: "Gil" }, phones: [] },
    ] } });
    expect(bodyView(m)).toEqual({ kind: "contacts", contacts: [
      { name: "Diego Ruiz", phones: ["+52 55 1234 5678"], emails: ["diego@example.com"] },
      { name: "Ana Gil", phones: [], emails: [] },
    ] });
  });

  it("says which button or list row the customer chose, and a template's quick reply", () => {
    expect(bodyView(msg({ kind: "interactive", content: "Sí, confirmo",
      extra: { reply: { type: "button_reply", id: "yes", title: "Sí, confirmo" } } })))
      .toEqual({ kind: "choice", choice: { how: "chose", title: "Sí, confirmo", description: undefined } });
    expect(bodyView(msg({ kind: "interactive", extra: { reply: { type: "list_reply", id: "r2", title: "Recoger en tienda",
      description: "Sin costo" } } }))).toEqual({ kind: "choice",
      choice: { how: "chose", title: "Recoger en tienda", description: "Sin costo" } });
    expect(bodyView(msg({ kind: "button", content: "Confirmar",
      extra: { reply: { type: "button", payload: "CONFIRM", text: "Confirmar" } } })))
      .toEqual({ kind: "choice", choice: { how: "pressed", title: "Confirmar" } });
  });

  it("turns an unsupported message into a note naming what arrived; a system message keeps its words", () => {
    expect(bodyView(msg({ kind: "unsupported", extra: { unsupported: { type: "poll" } } })))
      .toEqual({ kind: "unsupported", what: "poll" });
    expect(bodyView(msg({ kind: "unsupported", extra: {} }))).toEqual({ kind: "unsupported", what: null });
    const system = msg({ kind: "unsupported", content: "ℹ️ Lucía changed her number",
      extra: { unsupported: { type: "system" } } });
    expect(bodyView(system)).toEqual({ kind: "text" });
    expect(shownText(system)).toBe("ℹ️ Lucía changed her number");
  });

  it("keeps a photo's caption as its text", () => {
    const m = msg({ kind: "image", content: "¿Tienen este?", attachments: [{ type: "image", url: "/media/t/a.png" }] });
    expect(shownText(m)).toBe("¿Tienen este?");
  });
});

describe("files on their way", () => {
  it("tells pending, ready and failed apart, and names each kind of file", () => {
    expect(fileState({ type: "image", provider_media_id: "1", status: "pending" })).toBe("pending");
    expect(fileState({ type: "image", url: "/media/t/a.png", status: "ready" })).toBe("ready");
    expect(fileState({ type: "image", url: "/media/t/a.png" })).toBe("ready"); // sent before statuses existed
    expect(fileState({ type: "image", provider_media_id: "1", status: "failed" })).toBe("failed");
    expect(fileLabel({ type: "audio", voice: true, url: "x" })).toBe("file.voice");
    expect(fileLabel({ type: "image", sticker: true, url: "x" })).toBe("file.sticker");
    expect(fileLabel({ type: "document", url: "x" })).toBe("file.document");
  });

  it("says why a file failed by its code, or in general words for a code it does not know", () => {
    expect(fileErrorKey({ type: "image", status: "failed", error_code: "media_expired" }, known)).toBe("error.media_expired");
    expect(fileErrorKey({ type: "image", status: "failed", error_code: "something_new" }, known)).toBe("file.failed");
    expect(fileErrorKey({ type: "image", status: "failed" }, known)).toBe("file.failed");
  });
});

describe("deliveryMark: the ticks of what we send", () => {
  const of = (status: string, author: Message["author"] = "ai") => deliveryMark({ author, status });
  it("goes clock, ✓, ✓✓, blue ✓✓ (read or played), ⚠", () => {
    expect(of("queued")).toEqual({ icon: "clock", tone: "muted", label: "status.queued" });
    expect(of("sent")).toEqual({ icon: "check", tone: "muted", label: "status.sent" });
    expect(of("delivered")).toEqual({ icon: "double", tone: "muted", label: "status.delivered" });
    expect(of("read")).toEqual({ icon: "double", tone: "read", label: "status.read" });
    expect(of("played", "human")).toEqual({ icon: "double", tone: "read", label: "status.played" });
    expect(of("failed", "human")).toEqual({ icon: "alert", tone: "failed", label: "status.failed" });
  });
  it("shows none on what the customer sent, nor on system notes", () => {
    expect(of("received", "contact")).toBeNull();
    expect(of("sent", "system")).toBeNull();
  });
});

describe("reactions, quotes, ads and templates", () => {
  it("shows the customer's reaction first and drops removed ones", () => {
    const m = msg({ reactions: [{ emoji: "🙏", by: "business", at: "2026-03-15T10:01:00Z" },
      { emoji: "", by: "contact", at: "2026-03-15T10:02:00Z" }, { emoji: "❤️", by: "contact", at: "x" }] });
    expect(reactionsOf(m).map((r) => r.emoji)).toEqual(["❤️", "🙏"]);
  });

  it("quotes a message by its words, or by what it is when it has none", () => {
    expect(quoteText(msg({ content: "  Hola,\n ¿abren   el domingo? " }))).toEqual({ text: "Hola, ¿abren el domingo?" });
    expect(quoteText(msg({ content: "x".repeat(200) }))).toEqual({ text: `${"x".repeat(139)}…` });
    expect(quoteText(msg({ attachments: [{ type: "audio", voice: true, url: "/m" }] }))).toEqual({ key: "file.voice" });
    expect(quoteText(msg({ kind: "location", extra: { location: { latitude: 1, longitude: 2, name: "Sol" } } })))
      .toEqual({ text: "📍 Sol" });
  });

  it("keeps an ad's headline and only an https source link", () => {
    expect(referralOf(msg({ extra: { referral: { headline: "2x1 en lattes", source_url: "https://fb.me/ad" } } })))
      .toEqual({ headline: "2x1 en lattes", url: "https://fb.me/ad" });
    expect(referralOf(msg({ extra: { referral: { body: "Promo", source_url: "javascript:alert(1)" } } })))
      .toEqual({ headline: "Promo", url: undefined });
    expect(referralOf(msg())).toBeNull();
  });

  it("names a template we sent and its buttons", () => {
    expect(templateOf(msg({ author: "human", kind: "template", extra: { template: { name: "recordatorio_cita",
      buttons: [{ type: "QUICK_REPLY", text: "Confirmar" }, { type: "QUICK_REPLY", text: "Cambiar la cita" }] } } })))
      .toEqual({ name: "recordatorio_cita", buttons: ["Confirmar", "Cambiar la cita"] });
    expect(templateOf(msg())).toBeNull();
  });
});
