import { describe, expect, it } from "vitest";
import { translator } from "../i18n";
import { formatLeft, refreshEvery, windowState, WINDOW_MS } from "./window";

const now = Date.parse("2026-03-15T12:00:00Z");
const ago = (ms: number) => new Date(now - ms).toISOString();
const H = 3600_000;

describe("windowState: WhatsApp's 24-hour window", () => {
  it("is open for 24 hours after the customer last wrote, with the time left", () => {
    const state = windowState({ channel_source: "whatsapp", last_inbound_at: ago(1.5 * H) }, now);
    expect(state).toEqual({ kind: "open", closesAt: now + WINDOW_MS - 1.5 * H, leftMs: 22.5 * H, warning: false });
  });

  it("warns in its last hour and closes at 24 hours exactly", () => {
    expect(windowState({ channel_source: "whatsapp", last_inbound_at: ago(23.5 * H) }, now))
      .toMatchObject({ kind: "open", leftMs: 0.5 * H, warning: true });
    expect(windowState({ channel_source: "whatsapp", last_inbound_at: ago(24 * H) }, now))
      .toEqual({ kind: "closed", closedAt: now });
  });

  it("is closed when the customer never wrote on this number", () => {
    expect(windowState({ channel_source: "whatsapp", last_inbound_at: null }, now)).toEqual({ kind: "closed", closedAt: null });
  });

  it("takes the server's word for when it closes over its own sum", () => {
    const state = windowState({ channel_source: "whatsapp", last_inbound_at: ago(1 * H),
      window_open_until: ago(1) }, now);
    expect(state).toEqual({ kind: "closed", closedAt: now - 1 });
  });

  it("does not exist on other channels", () => {
    expect(windowState({ channel_source: "instagram", last_inbound_at: ago(30 * H) }, now)).toEqual({ kind: "none" });
    expect(windowState({ channel_source: "api", last_inbound_at: null }, now)).toEqual({ kind: "none" });
  });
});

describe("the countdown", () => {
  it("says the time left as a person does, in each language", () => {
    const es = translator("es");
    const en = translator("en");
    expect(formatLeft(22.5 * H, es)).toBe("22 h 30 min");
    expect(formatLeft(23 * H + 5 * 60_000 + 59_000, es)).toBe("23 h 05 min");
    expect(formatLeft(45 * 60_000, en)).toBe("45 min");
    expect(formatLeft(30_000, es)).toBe("menos de 1 min");
    expect(formatLeft(30_000, en)).toBe("under 1 min");
  });

  it("ticks every second in its last two minutes, otherwise twice a minute", () => {
    expect(refreshEvery(windowState({ channel_source: "whatsapp", last_inbound_at: ago(WINDOW_MS - 90_000) }, now))).toBe(1_000);
    expect(refreshEvery(windowState({ channel_source: "whatsapp", last_inbound_at: ago(H) }, now))).toBe(30_000);
    expect(refreshEvery({ kind: "closed", closedAt: null })).toBe(30_000);
  });
});
