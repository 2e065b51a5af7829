import { useCallback, useEffect, useState } from "react";
import { getRouteApi, useNavigate, useParams } from "@tanstack/react-router";
import type { ChatFilters } from "../api/endpoints";
import { useI18n, useMediaQuery } from "../lib/context";
import { filtersOf, isConversationId, searchOf } from "../lib/inboxSearch";
import { useAttention } from "./AttentionControls";
import { ChatPane } from "./ChatPane";
import { ContactPane } from "./ContactPane";
import { ConversationList } from "./ConversationList";
import { Drawer } from "./common";
import { PHONE, useSession } from "./Panel";

const chatRoute = getRouteApi("/panel_cliente/$slug/chat");

// Wide screens show the three columns; narrower ones keep the contact in a drawer opened from the
// chat's header, and a phone shows one pane at a time (the list, or the chat with a back button).
export const WIDE = "(min-width: 1200px)";

export function Inbox() {
  const { t } = useI18n();
  const { slug } = chatRoute.useParams();
  const params = useParams({ strict: false }) as { conversationId?: string };
  const conversationId = isConversationId(params.conversationId) ? params.conversationId : null;
  const search = chatRoute.useSearch();
  const filters = filtersOf(search);
  const navigate = useNavigate();
  const wide = useMediaQuery(WIDE);
  const phone = useMediaQuery(PHONE);
  const [contactOpen, setContactOpen] = useState(false);
  const session = useSession().data;

  // A conversation a search found by a message opens at that message (`at`, kept in the address).
  const select = useCallback((id: string | null, messageId?: number) => {
    if (id) {
      void navigate({ to: "/panel_cliente/$slug/chat/$conversationId", params: { slug, conversationId: id },
        search: (prev) => ({ ...prev, at: messageId }) });
    } else {
      void navigate({ to: "/panel_cliente/$slug/chat", params: { slug }, search: (prev) => ({ ...prev, at: undefined }) });
    }
  }, [navigate, slug]);

  const setFilters = useCallback((next: ChatFilters) => {
    const to = conversationId ? "/panel_cliente/$slug/chat/$conversationId" as const : "/panel_cliente/$slug/chat" as const;
    void navigate({ to, params: { slug, conversationId: conversationId ?? undefined }, search: searchOf(next),
      replace: true });
  }, [navigate, slug, conversationId]);

  useEffect(() => setContactOpen(false), [conversationId]);
  useAttention(conversationId, select);

  // "/" focuses the composer from anywhere that is not a text field (like WhatsApp Web's shortcut).
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement | null;
      const typing = target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
      if (e.key === "/" && !typing && !e.ctrlKey && !e.metaKey && !e.altKey && !document.querySelector("dialog[open]")) {
        const composer = document.getElementById("composer");
        if (composer) {
          e.preventDefault();
          composer.focus();
        }
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const pane = phone && conversationId ? "chat" : "list";
  return (
    <div className="columns" data-pane={phone ? pane : undefined}>
      {/* Both stay mounted on a phone (the hidden one by CSS), so the list keeps its place. */}
      <ConversationList selectedId={conversationId} onSelect={select} filters={filters} onFilters={setFilters} />
      <ChatPane key={conversationId ?? "none"} conversationId={conversationId}
        userName={session?.user.display_name ?? ""} focusMessageId={search.at}
        onBack={phone ? () => select(null) : undefined}
        onShowContact={wide ? undefined : () => setContactOpen(true)} />
      {wide && <ContactPane conversationId={conversationId} />}
      {!wide && contactOpen && conversationId && (
        <Drawer title={t("contact.title")} onClose={() => setContactOpen(false)}>
          <ContactPane conversationId={conversationId} inDrawer />
        </Drawer>
      )}
    </div>
  );
}
