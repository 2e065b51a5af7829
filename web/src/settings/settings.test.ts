import { describe, expect, it } from "vitest";
import type { Assistant, Member } from "../api/types";
import { assistantChanges, draftOf } from "./assistantDraft";
import { memberRules } from "./memberRules";
import { sectionsFor } from "./sections";

function member(role: string, id = role): Member {
  return { user_id: id, email: `${id}@x.test`, display_name: id, role, created_at: "2026-01-01T00:00:00Z" };
}

describe("memberRules", () => {
  it("explains the last owner instead of offering to remove them", () => {
    const owner = member("owner");
    const rules = memberRules(owner, [owner, member("agent")], "owner");
    expect(rules).toMatchObject({ lastOwner: true, canRemove: false, canChangeRole: false });
  });
  it("lets an owner change an owner when another owner remains", () => {
    const a = member("owner", "a");
    expect(memberRules(a, [a, member("owner", "b")], "owner")).toMatchObject({ lastOwner: false, canRemove: true });
  });
  it("keeps admins away from owners and from making owners", () => {
    const a = member("owner", "a");
    const members = [a, member("owner", "b"), member("agent")];
    expect(memberRules(a, members, "admin")).toMatchObject({ canRemove: false, canChangeRole: false });
    expect(memberRules(member("agent"), members, "admin")).toMatchObject({ canRemove: true, assignable: ["admin", "agent"] });
    expect(memberRules(member("agent"), members, "owner").assignable).toEqual(["owner", "admin", "agent"]);
  });
});

describe("settings sections", () => {
  it("are for owners and admins only", () => {
    expect(sectionsFor("owner").map((s) => s.path)).toEqual(["assistant", "knowledge", "channels", "templates", "widget", "canned", "members", "tokens", "tenant"]);
    expect(sectionsFor("admin")).toEqual(sectionsFor("owner"));
    expect(sectionsFor("agent")).toEqual([]);
    expect(sectionsFor(undefined)).toEqual([]);
  });
});

describe("assistantChanges", () => {
  const assistant: Assistant = {
    id: "a", name: "Nora", instructions: "", language: "es", provider: "openai", model: "gpt-4o-mini",
    base_url: null, has_api_key: true, temperature: null, max_output_tokens: null, debounce_seconds: 3,
    enabled_tools: ["search_knowledge", "mcp__*"], handoff_message: "Te paso con una persona.", enabled: true,
    channel_ids: [], knowledge_count: 0, created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z",
  };
  it("is empty when nothing changed (the stored key is never sent back)", () => {
    expect(assistantChanges(assistant, draftOf(assistant))).toEqual({});
  });
  it("sends only what changed, in the API's types", () => {
    const draft = { ...draftOf(assistant), name: " Lola ", temperature: "0.4", debounce_seconds: "1.5", base_url: "  ",
      enabled_tools: ["mcp__*", "search_knowledge"] };
    expect(assistantChanges(assistant, draft)).toEqual({ name: "Lola", temperature: 0.4, debounce_seconds: 1.5 });
    expect(assistantChanges(assistant, { ...draftOf(assistant), temperature: "" })).toEqual({});
  });
  it("replaces or removes the key only when asked", () => {
    expect(assistantChanges(assistant, { ...draftOf(assistant), api_key: " sk-new " })).toEqual({ api_key: "sk-new" });
    expect(assistantChanges(assistant, { ...draftOf(assistant), remove_key: true })).toEqual({ api_key: null });
  });
});
