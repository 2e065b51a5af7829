// The bubble of each kind of message, rendered to HTML as the chat shows it (in Spanish).
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { I18nextProvider } from "react-i18next";
import { describe, expect, it } from "vitest";
import type { Message } from "../api/types";
import { i18n } from "../i18n";
import { MessageBubble, type BubbleProps } from "./MessageBubble";

function msg(extra: Partial<Message> = {}): Message {
  return {
    id: 7, conversation_id: "c", sender: "user", author: "contact", content: "", timestamp: "2026-03-15T10:00:00Z",
    status: "received", attachments: [], ...extra,
  };
}

function render(message: Message, props: Partial<BubbleProps> = {}): string {
  const bubble = createElement(MessageBubble, { message, onWhy: () => {}, assistantName: "Nora", contactName: "Lucía",
    ...props });
  return renderToStaticMarkup(createElement(I18nextProvider, { i18n }, bubble));
}

const text = (html: string) => html.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").trim();

describe("bubbles by kind", () => {
  it("shows a location with its name, address and a map link", () => {
    const html = render(msg({ kind: "location", content: "📍 Café Aurora · Calle Mayor 1 · https://osm",
      extra: { location: { latitude: 19.43, longitude: -99.13, name: "Café Aurora", address: "Calle Mayor 1" } } }));
    expect(text(html)).toContain("Café Aurora Calle Mayor 1 Ver en el mapa");
    expect(html).toContain('href="https://www.openstreetmap.org/?mlat=19.43&amp;mlon=-99.13#map=17/19.43/-99.13"');
    expect(html).not.toContain("https://osm"); // the text version is not repeated
  });

  it("shows shared contacts with links to call them", () => {
    const html = render(msg({ kind: "contacts", extra: { contacts: [{ name: { formatted_name: "Diego Ruiz" },
      phones: [{ phone: "+52 55 1234 5678" }] }] } }));
    expect(text(html)).toContain("Diego Ruiz +52 55 1234 5678");
    expect(html).toContain('href="tel:+525512345678"');
  });

  it("says which button the customer chose", () => {
    const html = render(msg({ kind: "interactive", content: "Sí, confirmo",
      extra: { reply: { type: "button_reply", id: "yes", title: "Sí, confirmo" } } }));
    expect(text(html)).toContain("Eligió Sí, confirmo");
  });

  it("plays a voice note under its name and shows a sticker without a bubble", () => {
    const voice = render(msg({ kind: "voice", attachments: [{ type: "audio", voice: true, url: "/media/t/a.ogg",
      status: "ready" }] }));
    expect(voice).toContain('<audio class="att-audio" src="/media/t/a.ogg"');
    expect(text(voice)).toContain("🎤 Nota de voz");
    const sticker = render(msg({ kind: "sticker", attachments: [{ type: "image", sticker: true, url: "/media/t/s.webp",
      status: "ready" }] }));
    expect(sticker).toContain("is-sticker");
    expect(sticker).toContain('class="att-sticker"');
  });

  it("names a document and offers it as a download", () => {
    const html = render(msg({ kind: "document", attachments: [{ type: "document", url: "/media/t/x.pdf",
      filename: "presupuesto.pdf", size: 2048, status: "ready" }] }));
    expect(html).toContain('download="presupuesto.pdf"');
    expect(text(html)).toContain("presupuesto.pdf 2 KB");
  });

  it("holds a place for a file still coming, and says why one could not be had", () => {
    const pending = render(msg({ kind: "image", attachments: [{ type: "image", provider_media_id: "1", status: "pending" }] }));
    expect(text(pending)).toContain("Foto: descargando el archivo…");
    expect(pending).not.toContain("<img");
    const failed = render(msg({ kind: "video", attachments: [{ type: "video", provider_media_id: "1", status: "failed",
      error_code: "media_too_large", error: "the file is larger than WhatsApp allows" }] }));
    expect(text(failed)).toContain("Vídeo · El archivo es más grande de lo que WhatsApp permite para este tipo.");
  });

  it("shows an unsupported message as a note", () => {
    const html = render(msg({ kind: "unsupported", content: "⚠️ A WhatsApp message Tertulia cannot show arrived",
      extra: { unsupported: { type: "poll" } } }));
    expect(html).toContain('class="system-note is-unsupported"');
    expect(text(html)).toContain("Llegó un mensaje que aquí no se puede mostrar (poll): míralo en el teléfono.");
  });
});

describe("what happened to a message", () => {
  it("shows the quoted message, the reactions under the bubble, and the edit", () => {
    const quoted = msg({ id: 3, content: "¿Abren el domingo?" });
    const html = render(msg({ author: "ai", sender: "agent", content: "Sí, de 8 a 15 h.", reply_to_id: 3, status: "sent",
      edited_at: "2026-03-15T10:05:00Z", extra: { original: "Sí, de 9 a 15 h." },
      reactions: [{ emoji: "🙏", by: "contact", at: "2026-03-15T10:06:00Z" }] }),
    { quoted: { state: "found", message: quoted } });
    expect(text(html)).toMatch(/Lucía ¿Abren el domingo\? Sí, de 8 a 15 h\. editado/);
    expect(html).toContain('title="Editado. Antes decía: «Sí, de 9 a 15 h.»"');
    expect(html).toContain('aria-label="🙏 del cliente"');
    expect(render(msg({ reply_to_id: 99 }), { quoted: { state: "missing" } })).toContain("El mensaje citado no está disponible.");
  });

  it("strikes a deleted message through, for the team", () => {
    const html = render(msg({ content: "mi tarjeta es 4111…", deleted_at: "2026-03-15T10:02:00Z" }));
    expect(html).toContain('class="bubble-text is-struck"');
    expect(text(html)).toContain("Quien lo envió lo eliminó; el equipo aún lo ve. eliminado");
  });

  it("marks what the business wrote from its phone", () => {
    const html = render(msg({ author: "human", sender: "agent", is_echo: true, content: "Ya va", status: "sent" }));
    expect(text(html)).toContain("Desde el teléfono");
  });

  it("shows the ticks, blue once read, and a failure with its reason and a retry button", () => {
    const ticks = (status: string) => {
      const html = render(msg({ author: "ai", sender: "agent", content: "Hola", status }));
      return html.match(/data-status-mark="([^"]+)"/)?.[1];
    };
    expect(["queued", "sent", "delivered", "read", "played"].map(ticks))
      .toEqual(["status.queued", "status.sent", "status.delivered", "status.read", "status.played"]);
    expect(render(msg({ author: "ai", content: "Hola", status: "read" }))).toContain("status status-read");
    const failed = render(msg({ author: "human", content: "Hola", status: "failed",
      error: "Pasaron más de 24 horas desde el último mensaje del cliente: envía una plantilla." }), { onRetry: () => {} });
    expect(text(failed)).toContain("Pasaron más de 24 horas desde el último mensaje del cliente: envía una plantilla. Reintentar");
    expect(failed).toContain('aria-label="Reintentar el envío de este mensaje"');
    expect(render(msg({ author: "contact", content: "Hola", status: "received" }))).not.toContain("data-status-mark");
  });
});
