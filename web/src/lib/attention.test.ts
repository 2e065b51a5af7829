import { describe, expect, it } from "vitest";
import type { ChatSummary } from "../api/types";
import { attentionFor, titleWithUnread } from "./attention";

const NOW = Date.parse("2026-12-07T12:00:00Z");

function row(extra: Partial<ChatSummary> = {}): ChatSummary {
  return {
    id: "c1", customer_phone: "", display_name: "Ana", last_message: "hola", timestamp: "2026-12-07T11:59:00Z",
    channel_source: "whatsapp", unread_count: 1, is_locked: true, platform_origin: "", contact_id: "k1",
    channel_id: "ch", status: "open", tags: [], last_inbound_at: "2026-12-07T11:59:00Z", ...extra,
  } as ChatSummary;
}

function updated(data: ChatSummary, at = "2026-12-07T11:59:30Z") {
  return { seq: 1, type: "conversation.updated", data, at };
}

describe("what calls for attention", () => {
  it("a conversation handed to a person", () => {
    expect(attentionFor(updated(row()), row({ is_locked: false }), NOW)?.kind).toBe("handoff");
  });
  it("a customer writing in a conversation a person owns", () => {
    const before = row({ last_inbound_at: "2026-12-07T11:00:00Z" });
    expect(attentionFor(updated(row()), before, NOW)?.kind).toBe("customer");
    expect(attentionFor(updated(row()), undefined, NOW)?.kind).toBe("customer");
  });
  it("not the AI's conversations, a person's own message, other events or old replays", () => {
    expect(attentionFor(updated(row({ is_locked: false })), row({ is_locked: false, last_inbound_at: null }), NOW)).toBeNull();
    expect(attentionFor(updated(row({ timestamp: "2026-12-07T11:59:50Z" })), row(), NOW)).toBeNull();
    expect(attentionFor({ seq: 1, type: "message.created", data: {} }, undefined, NOW)).toBeNull();
    expect(attentionFor(updated(row(), "2026-12-07T11:00:00Z"), row({ is_locked: false }), NOW)).toBeNull();
  });
  it("the tab's title counts conversations waiting", () => {
    expect(titleWithUnread("Tertulia", 0)).toBe("Tertulia");
    expect(titleWithUnread("Tertulia", 3)).toBe("(3) Tertulia");
    expect(titleWithUnread("Tertulia", 250)).toBe("(99+) Tertulia");
  });
});
