// Server events → TanStack Query caches. Each event patches what is cached; nothing is refetched,
// except the conversation's summary, which the server writes (a new message or a change of hands
// marks it stale, and it is read again if it is on screen), and a query whose load was in flight.
import type { QueryClient, QueryKey } from "@tanstack/react-query";
import { keys, type ChatFilters, type ChatPage } from "../api/endpoints";
import type { ChatSummary, Contact, Message, Tag } from "../api/types";
import {
  addMessage, patchChatRow, replaceMessage, retagChats, retagContact, upsertChatRow, upsertTag, type MessageWindow,
  type Paged,
} from "./cache";
import type { EphemeralFrame, ServerEvent } from "./socket";
import { applyVisitorTyping, clearVisitorTyping } from "./typing";

/** An event patched a query whose fetch is in flight: that fetch may have read the database before
 * the event's commit, and its answer would then replace the patch (a new conversation vanishing
 * from the list until the next event). Fetch that query once more when the current fetch settles. */
const refetchAfterFetch = new WeakMap<QueryClient, Set<string>>();

function patchedWhileFetching(client: QueryClient, queryKey: QueryKey): void {
  const query = client.getQueryCache().find({ queryKey, exact: true });
  if (!query || query.state.fetchStatus !== "fetching") return;
  const waiting = refetchAfterFetch.get(client) ?? new Set<string>();
  refetchAfterFetch.set(client, waiting);
  if (waiting.has(query.queryHash)) return;
  waiting.add(query.queryHash);
  // With a fetch running, `fetch` answers that fetch's promise instead of starting another.
  void query.fetch(undefined, { cancelRefetch: false }).catch(() => undefined).finally(() => {
    waiting.delete(query.queryHash);
    void client.invalidateQueries({ queryKey, exact: true });
  });
}

export function applyEvent(client: QueryClient, event: ServerEvent): void {
  switch (event.type) {
    case "message.created":
    case "message.updated": {
      const message = event.data as Message;
      client.setQueryData<MessageWindow>(keys.messages(message.conversation_id),
        (w) => (event.type === "message.created" ? addMessage(w, message) : replaceMessage(w, message)));
      patchedWhileFetching(client, keys.messages(message.conversation_id));
      // A quoted message fetched on its own (not in the loaded window) follows its changes too.
      client.setQueryData<Message | null>(keys.message(message.conversation_id, message.id),
        (old) => (old ? message : old));
      if (event.type === "message.created") void client.invalidateQueries({ queryKey: keys.summary(message.conversation_id) });
      if (event.type === "message.created" && message.author === "contact") clearVisitorTyping(client, message.conversation_id);
      return;
    }
    case "conversation.updated": {
      const row = event.data as ChatSummary;
      const before = client.getQueryData<ChatSummary>(keys.chat(row.id));
      applyConversation(client, row);
      if (!before || before.is_locked !== row.is_locked) void client.invalidateQueries({ queryKey: keys.summary(row.id) });
      return;
    }
    case "contact.updated": {
      const contact = event.data as Contact;
      client.setQueryData<Contact>(keys.contact(contact.id), (old) => (old ? { ...old, ...contact } : old));
      // The list shows the contact's name, phone and tags: patch every row of that contact.
      for (const [key, data] of client.getQueriesData<Paged<ChatPage>>({ queryKey: keys.chatsRoot })) {
        if (!data) continue;
        let next = data;
        for (const page of data.pages) {
          for (const row of page.rows) {
            if (row.contact_id === contact.id) {
              next = patchChatRow(next, row.id, {
                display_name: contact.display_name, customer_phone: contact.phone ?? "", tags: contact.tags ?? row.tags,
              }) ?? next;
            }
          }
        }
        if (next !== data) client.setQueryData(key, next);
      }
      for (const [key, row] of client.getQueriesData<ChatSummary>({ queryKey: ["chat"] })) {
        if (row && row.contact_id === contact.id) {
          client.setQueryData<ChatSummary>(key, {
            ...row, display_name: contact.display_name, customer_phone: contact.phone ?? "", tags: contact.tags ?? row.tags,
          });
        }
      }
      return;
    }
    case "tag.created":
    case "tag.updated":
    case "tag.deleted": {
      const tag = event.data as Tag;
      applyTag(client, tag, event.type === "tag.deleted");
      return;
    }
    default:
      return;
  }
}

/** Live-only frames (no seq): unknown types are ignored, as for events. */
export function applyEphemeral(client: QueryClient, frame: EphemeralFrame): void {
  if (frame.type === "visitor.typing") applyVisitorTyping(client, frame.data);
}

export function applyConversation(client: QueryClient, row: ChatSummary): void {
  client.setQueryData<ChatSummary>(keys.chat(row.id), row);
  for (const [key, data] of client.getQueriesData<Paged<ChatPage>>({ queryKey: keys.chatsRoot })) {
    const filters = key[1] as ChatFilters | undefined;
    if (!filters) continue;
    if (data) client.setQueryData(key, upsertChatRow(data, row, filters));
    patchedWhileFetching(client, key);
  }
}

export function applyTag(client: QueryClient, tag: Tag, deleted: boolean): void {
  client.setQueryData<Tag[]>(keys.tags, (tags) => upsertTag(tags, tag, deleted));
  for (const [key, data] of client.getQueriesData<Paged<ChatPage>>({ queryKey: keys.chatsRoot })) {
    if (data) client.setQueryData(key, retagChats(data, tag, deleted));
  }
  for (const [key, data] of client.getQueriesData<Contact>({ queryKey: ["contact"] })) {
    if (data) client.setQueryData(key, retagContact(data, tag, deleted));
  }
}

/** Patch a row everywhere it is cached without moving it (e.g. unread count reset on read). */
export function patchConversation(client: QueryClient, id: string, patch: Partial<ChatSummary>): void {
  client.setQueryData<ChatSummary>(keys.chat(id), (old) => (old ? { ...old, ...patch } : old));
  for (const [key, data] of client.getQueriesData<Paged<ChatPage>>({ queryKey: keys.chatsRoot })) {
    const next = patchChatRow(data, id, patch);
    if (next !== data) client.setQueryData(key, next);
  }
}
