import { describe, expect, it } from "vitest";
import { filtersOf, isConversationId, parseInboxSearch, searchOf } from "./inboxSearch";

const TAG = "0b6a4d1e-5f7c-4a8b-9d2e-3c4f5a6b7c8d";

describe("the inbox's filters in the address", () => {
  it("reads what it knows and drops the rest", () => {
    expect(parseInboxSearch({ owner: "human_only", channel: "instagram", tag: TAG, q: "maría" }))
      .toEqual({ owner: "human_only", channel: "instagram", tag: TAG, q: "maría" });
    expect(parseInboxSearch({ owner: "everyone", channel: "fax", tag: "not-a-uuid", q: "   ", extra: 1 })).toEqual({});
    expect(parseInboxSearch({ q: 5512 })).toEqual({ q: "5512" }); // a number typed in the box
    expect(parseInboxSearch({ q: "envio", at: "42" })).toEqual({ q: "envio", at: 42 }); // a search's message
    expect(parseInboxSearch({ at: "-1" })).toEqual({});
  });
  it("goes to filters and back, leaving defaults out of the address", () => {
    const search = { owner: "bot_only" as const, q: "López" };
    const filters = filtersOf(search);
    expect(filters).toEqual({ human_filter: "bot_only", channel: "", tag: "", q: "López" });
    expect(searchOf(filters)).toEqual(search);
    expect(searchOf(filtersOf({}))).toEqual({});
  });
  it("knows a conversation id when it sees one", () => {
    expect(isConversationId(TAG)).toBe(true);
    expect(isConversationId("settings")).toBe(false);
    expect(isConversationId(undefined)).toBe(false);
  });
});
