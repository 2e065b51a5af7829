import { describe, expect, it, vi } from "vitest";
import { QueryClient, QueryObserver } from "@tanstack/react-query";
import { keys, type ChatFilters, type ChatPage } from "../api/endpoints";
import type { ChatSummary, Contact, Message, Tag } from "../api/types";
import { activeTag, flattenChats, mergeMessages, upsertChatRow, type MessageWindow, type Paged } from "./cache";
import { applyEvent } from "./live";

const ALL: ChatFilters = { human_filter: "all", channel: "", tag: "", q: "" };
const vip: Tag = { id: "t-vip", name: "VIP", color: "#22c55e" };

function row(id: string, minute: number, extra: Partial<ChatSummary> = {}): ChatSummary {
  return {
    id, customer_phone: "+5215500000000", display_name: `Contact ${id}`, last_message: `hello ${id}`,
    timestamp: new Date(Date.UTC(2026, 2, 15, 10, minute)).toISOString(), channel_source: "whatsapp",
    unread_count: 0, is_locked: false, platform_origin: "", contact_id: `contact-${id}`, channel_id: "channel-1",
    status: "open", tags: [],
    last_inbound_at: null, ...extra,
  };
}

function msg(id: number, conversation = "a"): Message {
  return {
    id, conversation_id: conversation, sender: "user", content: `m${id}`, timestamp: new Date(2026, 2, 15, 10, id).toISOString(),
    attachments: [], correlation_id: null, author: "contact", author_name: null, status: "received", error: null,
  };
}

function paged(...pages: ChatPage[]): Paged<ChatPage> {
  return { pages, pageParams: pages.map((_, i) => (i === 0 ? null : `c${i}`)) };
}

describe("upsertChatRow", () => {
  it("moves a conversation with a new message to the top", () => {
    const data = paged({ rows: [row("a", 30), row("b", 20), row("c", 10)], nextCursor: null });
    const next = upsertChatRow(data, row("c", 40, { last_message: "new" }), ALL);
    expect(flattenChats(next).map((r) => r.id)).toEqual(["c", "a", "b"]);
    expect(flattenChats(next)[0].last_message).toBe("new");
  });

  it("adds a new conversation and never duplicates one", () => {
    const data = paged({ rows: [row("a", 30)], nextCursor: "x" }, { rows: [row("b", 20)], nextCursor: null });
    let next = upsertChatRow(data, row("n", 50), ALL);
    next = upsertChatRow(next, row("b", 55), ALL);
    expect(flattenChats(next).map((r) => r.id)).toEqual(["b", "n", "a"]);
  });

  it("drops a row that no longer matches the list's filters", () => {
    const botOnly: ChatFilters = { ...ALL, human_filter: "bot_only" };
    const data = paged({ rows: [row("a", 30), row("b", 20)], nextCursor: null });
    const next = upsertChatRow(data, row("a", 30, { is_locked: true }), botOnly);
    expect(flattenChats(next).map((r) => r.id)).toEqual(["b"]);
  });

  it("respects channel, tag and search filters", () => {
    const data = paged({ rows: [], nextCursor: null });
    expect(flattenChats(upsertChatRow(data, row("a", 1, { channel_source: "instagram" }), { ...ALL, channel: "whatsapp" }))).toEqual([]);
    expect(flattenChats(upsertChatRow(data, row("a", 1), { ...ALL, tag: vip.id }))).toEqual([]);
    expect(flattenChats(upsertChatRow(data, row("a", 1, { tags: [vip] }), { ...ALL, tag: vip.id }))).toHaveLength(1);
    expect(flattenChats(upsertChatRow(data, row("a", 1, { display_name: "Lucía Pérez" }), { ...ALL, q: "lucía" }))).toHaveLength(1);
    expect(flattenChats(upsertChatRow(data, row("a", 1), { ...ALL, q: "5500" }))).toHaveLength(1);
    expect(flattenChats(upsertChatRow(data, row("a", 1), { ...ALL, q: "nobody" }))).toEqual([]);
    // Like the server: no accents or case, phones by their digits however typed.
    expect(flattenChats(upsertChatRow(data, row("a", 1, { display_name: "Lucía Pérez" }), { ...ALL, q: "LUCIA perez" }))).toHaveLength(1);
    expect(flattenChats(upsertChatRow(data, row("a", 1, { customer_phone: "+5215512345678" }), { ...ALL, q: "55 1234-56" }))).toHaveLength(1);
  });

  it("keeps a row a search found by a message, with that message", () => {
    const match = { message_id: 7, excerpt: "el abrigo granate" };
    const data = paged({ rows: [row("a", 30, { match })], nextCursor: null });
    const next = upsertChatRow(data, row("a", 40, { unread_count: 0 }), { ...ALL, q: "abrigo" });
    expect(flattenChats(next)).toMatchObject([{ id: "a", match }]);
    // A conversation not listed is added only when its contact matches (the event has no words).
    expect(flattenChats(upsertChatRow(data, row("b", 50), { ...ALL, q: "abrigo" })).map((r) => r.id)).toEqual(["a"]);
  });

  it("leaves an old row to the pages not loaded yet", () => {
    const data = paged({ rows: [row("a", 30), row("b", 20)], nextCursor: "more" });
    expect(flattenChats(upsertChatRow(data, row("z", 1), ALL)).map((r) => r.id)).toEqual(["a", "b"]);
  });
});

describe("mergeMessages", () => {
  it("keeps messages in id order without duplicates, the newer copy winning", () => {
    const merged = mergeMessages([msg(1), msg(3)], [msg(2), { ...msg(3), status: "read" }]);
    expect(merged.map((m) => m.id)).toEqual([1, 2, 3]);
    expect(merged[2].status).toBe("read");
  });
});

describe("activeTag", () => {
  it("is the most recently applied tag (listed first by the server)", () => {
    expect(activeTag([vip, { id: "t2", name: "Old", color: "#000000" }])).toBe(vip);
    expect(activeTag([])).toBeUndefined();
  });
});

describe("applyEvent", () => {
  function setup() {
    const client = new QueryClient();
    client.setQueryData(keys.chats(ALL), paged({ rows: [row("a", 30), row("b", 20)], nextCursor: null }));
    client.setQueryData(keys.chats({ ...ALL, human_filter: "human_only" }), paged({ rows: [], nextCursor: null }));
    client.setQueryData<MessageWindow>(keys.messages("b"), { messages: [msg(1, "b")], hasOlder: false });
    return client;
  }

  it("message.updated replaces a loaded message by id and leaves others out", () => {
    const client = new QueryClient();
    client.setQueryData<MessageWindow>(keys.messages("b"), { messages: [msg(5, "b"), msg(6, "b")], hasOlder: true });
    const read = { ...msg(6, "b"), author: "ai" as const, status: "read" };
    applyEvent(client, { seq: 1, type: "message.updated", data: read });
    // An older message changing (a reaction to it) does not slip into the window with a gap before it.
    applyEvent(client, { seq: 2, type: "message.updated", data: { ...msg(2, "b"), reactions: [{ emoji: "👍", by: "contact", at: "x" }] } });
    const w = client.getQueryData<MessageWindow>(keys.messages("b"))!;
    expect(w.messages.map((m) => [m.id, m.status])).toEqual([[5, "received"], [6, "read"]]);
    // A quoted message fetched on its own follows its changes too.
    client.setQueryData(keys.message("b", 2), msg(2, "b"));
    applyEvent(client, { seq: 3, type: "message.updated", data: { ...msg(2, "b"), deleted_at: "2026-03-15T10:00:00Z" } });
    expect(client.getQueryData<Message>(keys.message("b", 2))?.deleted_at).toBe("2026-03-15T10:00:00Z");
  });

  it("message.created appends to the open chat once", () => {
    const client = setup();
    applyEvent(client, { seq: 1, type: "message.created", data: msg(2, "b") });
    applyEvent(client, { seq: 2, type: "message.created", data: msg(2, "b") });
    expect(client.getQueryData<MessageWindow>(keys.messages("b"))!.messages.map((m) => m.id)).toEqual([1, 2]);
    // A chat that is not cached is left to load when opened.
    applyEvent(client, { seq: 3, type: "message.created", data: msg(9, "zzz") });
    expect(client.getQueryData(keys.messages("zzz"))).toBeUndefined();
  });

  it("an event that lands while the list loads is not lost to that load's older answer", async () => {
    const client = new QueryClient();
    const key = keys.chats(ALL);
    const stale = paged({ rows: [row("a", 30)], nextCursor: null });
    const fresh = paged({ rows: [row("n", 50), row("a", 30)], nextCursor: null });
    let calls = 0;
    let answerFirst: () => void = () => undefined;
    const observer = new QueryObserver<Paged<ChatPage>>(client, {
      queryKey: key,
      queryFn: () => {
        calls += 1;
        // The first load read the database before "n" was committed, and answers after its event.
        return calls === 1 ? new Promise((resolve) => { answerFirst = () => resolve(stale); }) : Promise.resolve(fresh);
      },
    });
    const unsubscribe = observer.subscribe(() => undefined);
    await vi.waitFor(() => expect(calls).toBe(1));
    applyEvent(client, { seq: 1, type: "conversation.updated", data: row("n", 50) });
    answerFirst();
    await vi.waitFor(() => expect(flattenChats(client.getQueryData(key)).map((r) => r.id)).toEqual(["n", "a"]));
    expect(calls).toBe(2);
    unsubscribe();
  });

  it("conversation.updated reorders every cached list by its own filters", () => {
    const client = setup();
    applyEvent(client, { seq: 1, type: "conversation.updated", data: row("b", 45, { is_locked: true, unread_count: 2 }) });
    const all = flattenChats(client.getQueryData(keys.chats(ALL)));
    expect(all.map((r) => r.id)).toEqual(["b", "a"]);
    expect(all[0].unread_count).toBe(2);
    const human = flattenChats(client.getQueryData(keys.chats({ ...ALL, human_filter: "human_only" })));
    expect(human.map((r) => r.id)).toEqual(["b"]);
    expect(client.getQueryData<ChatSummary>(keys.chat("b"))!.is_locked).toBe(true);
  });

  it("a new message or a change of hands makes the conversation's summary stale, and nothing else", () => {
    const client = setup();
    const summary = { summary: "…\nAhora responde la IA (Nora).", generated_at: "x", message_count: 1, handoff_brief: null,
      control: "Ahora responde la IA (Nora)." };
    const stale = () => client.getQueryState(keys.summary("b"))!.isInvalidated;
    client.setQueryData(keys.summary("b"), summary);
    client.setQueryData(keys.chat("b"), row("b", 20));
    applyEvent(client, { seq: 1, type: "conversation.updated", data: row("b", 21, { unread_count: 3 }) });
    expect(stale()).toBe(false); // an unread count says nothing new
    applyEvent(client, { seq: 2, type: "conversation.updated", data: row("b", 22, { is_locked: true }) });
    expect(stale()).toBe(true); // taken over: who has it changed
    client.setQueryData(keys.summary("b"), summary);
    applyEvent(client, { seq: 3, type: "message.created", data: msg(2, "b") });
    expect(stale()).toBe(true);
  });

  it("tag.updated and tag.deleted reach rows, contacts and the tag list", () => {
    const client = setup();
    applyEvent(client, { seq: 1, type: "conversation.updated", data: row("a", 50, { tags: [vip] }) });
    const contact = { id: "contact-a", tags: [vip] } as Contact;
    client.setQueryData(keys.contact("contact-a"), contact);
    client.setQueryData(keys.tags, [vip]);
    applyEvent(client, { seq: 2, type: "tag.updated", data: { ...vip, name: "Gold" } });
    expect(flattenChats(client.getQueryData(keys.chats(ALL)))[0].tags[0].name).toBe("Gold");
    expect(client.getQueryData<Contact>(keys.contact("contact-a"))!.tags[0].name).toBe("Gold");
    applyEvent(client, { seq: 3, type: "tag.deleted", data: vip });
    expect(flattenChats(client.getQueryData(keys.chats(ALL)))[0].tags).toEqual([]);
    expect(client.getQueryData<Tag[]>(keys.tags)).toEqual([]);
    applyEvent(client, { seq: 4, type: "tag.created", data: vip });
    expect(client.getQueryData<Tag[]>(keys.tags)).toEqual([vip]);
  });

  it("contact.updated renames the contact's rows", () => {
    const client = setup();
    applyEvent(client, { seq: 1, type: "contact.updated", data: { id: "contact-a", display_name: "Ana", phone: "+34600000000", tags: [] } });
    const a = flattenChats(client.getQueryData(keys.chats(ALL))).find((r) => r.id === "a")!;
    expect(a.display_name).toBe("Ana");
    expect(a.customer_phone).toBe("+34600000000");
  });

  it("contact.updated renames the open chat's header too", () => {
    const client = setup();
    client.setQueryData(keys.chat("a"), row("a", 30));
    applyEvent(client, { seq: 1, type: "contact.updated", data: { id: "contact-a", display_name: "Ana", phone: null, tags: [vip] } });
    expect(client.getQueryData<ChatSummary>(keys.chat("a"))).toMatchObject({ display_name: "Ana", customer_phone: "", tags: [vip] });
  });
});
