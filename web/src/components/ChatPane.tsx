import {
  Fragment, lazy, Suspense, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState,
} from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, keys } from "../api/endpoints";
import type { ChatSummary, Message } from "../api/types";
import { mergeMessages, replaceMessage, type MessageWindow } from "../lib/cache";
import { channelColor } from "../lib/channels";
import { useDocumentVisible, useI18n, useLiveState, useNow } from "../lib/context";
import { dayKey, formatDayLabel, formatTime, isOnline } from "../lib/dates";
import type { MessageKey } from "../i18n";
import { applyConversation, patchConversation } from "../lib/live";
import { useAssistantName } from "../lib/assistant";
import { formatLeft, refreshEvery, windowState, type WindowState } from "../lib/window";
import { useJumpToMessage } from "../lib/useJumpToMessage";
import { useVisitorTyping } from "../lib/typing";
import { Avatar } from "./common";
import { errorText } from "../lib/errors";
import { BackIcon, ClockIcon, InfoIcon, SparkIcon } from "./icons";
import { Composer, showSent } from "./Composer";
import { MessageBubble, type QuotedState } from "./MessageBubble";
import { TraceDialog } from "./TraceDialog";
import { ChatStateBanners } from "./ChatStateBanners";
import { useImageViewer } from "./ImageViewer";

const PAGE = 50;
// Opened only when a template is wanted: loaded then, outside the first load.
const TemplatePicker = lazy(() => import("./TemplatePicker").then((m) => ({ default: m.TemplatePicker })));

interface PaneActions {
  /** On a phone: back to the list. */
  onBack?: () => void;
  /** Where the contact is a drawer: open it. */
  onShowContact?: () => void;
  /** A message to open the chat at (found by a search). */
  focusMessageId?: number;
}

export function ChatPane({ conversationId, userName, ...actions }: PaneActions & {
  conversationId: string | null; userName: string;
}) {
  const { t } = useI18n();
  if (!conversationId) {
    return (
      <section className="col col-chat col-chat-empty" aria-label={t("chat.messages")}>
        <div className="empty-state">
          <SparkIcon width={40} height={40} />
          <h2>{t("chat.empty.title")}</h2>
          <p className="muted">{t("chat.empty.body")}</p>
        </div>
      </section>
    );
  }
  return <OpenChat conversationId={conversationId} userName={userName} {...actions} />;
}

function OpenChat({ conversationId, userName, onBack, onShowContact, focusMessageId }: PaneActions & {
  conversationId: string; userName: string;
}) {
  const { t, lang } = useI18n();
  const client = useQueryClient();
  const live = useLiveState();
  // The online dot and the window's countdown age while on screen (by the second near the close).
  const [fastClock, setFastClock] = useState(false);
  const now = useNow(fastClock ? 1_000 : 15_000);
  const [traceId, setTraceId] = useState<string | null>(null);
  // The template picker: opened from the composer, or by a send the closed window refused.
  const [picker, setPicker] = useState<{ notice?: string } | null>(null);

  const chat = useQuery({ queryKey: keys.chat(conversationId), queryFn: () => api.chat(conversationId) });
  // The visitor of a web chat is writing (live only: see lib/typing.ts).
  const typing = useVisitorTyping(conversationId);
  const contact = useQuery({
    queryKey: keys.contact(chat.data?.contact_id ?? ""),
    queryFn: () => api.contact(chat.data!.contact_id),
    enabled: !!chat.data,
  });
  const messages = useQuery({
    queryKey: keys.messages(conversationId),
    queryFn: async (): Promise<MessageWindow> => {
      const page = await api.messages(conversationId, { limit: PAGE });
      return { messages: page, hasOlder: page.length === PAGE };
    },
    staleTime: Infinity,
  });

  // After the socket comes back, fetch what this chat may have missed (cheap: only newer ids).
  const wasDown = useRef(false);
  useEffect(() => {
    if (live !== "open") {
      wasDown.current = true;
      return;
    }
    if (!wasDown.current) return;
    wasDown.current = false;
    const current = client.getQueryData<MessageWindow>(keys.messages(conversationId));
    const lastId = current?.messages.at(-1)?.id;
    if (lastId === undefined) return;
    api.messages(conversationId, { after_id: lastId, limit: 500 }).then((delta) => {
      client.setQueryData<MessageWindow>(keys.messages(conversationId),
        (w) => (w ? { ...w, messages: mergeMessages(w.messages, delta) } : w));
    }).catch(() => {});
    api.chat(conversationId).then((row) => applyConversation(client, row)).catch(() => {});
  }, [live, client, conversationId]);

  // Opening a chat (and new messages arriving while it is open and visible) marks it read.
  const unread = chat.data?.unread_count ?? 0;
  const visible = useDocumentVisible();
  useEffect(() => {
    if (unread === 0 || !visible) return;
    // The badge goes at once; the server's own update follows as an event.
    patchConversation(client, conversationId, { unread_count: 0 });
    api.markRead(conversationId).catch(() => {});
  }, [unread, visible, conversationId, client]);

  const row = chat.data;
  // The time of this render: a customer's message that just arrived counts from now, not from the
  // last tick (which would show more than 24 h left).
  const window24: WindowState = row ? windowState(row, Math.max(now, Date.now())) : { kind: "none" };
  const wantFast = refreshEvery(window24) < 15_000;
  useEffect(() => setFastClock(wantFast), [wantFast]);
  const lock = useMutation({
    mutationFn: (locked: boolean) => api.setLocked(conversationId, locked),
    onSuccess: (result) => {
      const current = client.getQueryData<ChatSummary>(keys.chat(conversationId));
      if (current) applyConversation(client, { ...current, is_locked: result.locked });
    },
  });

  const back = onBack && (
    <button type="button" className="icon-btn back-btn" onClick={onBack} aria-label={t("chat.back")} title={t("chat.back")}>
      <BackIcon width={20} height={20} />
    </button>
  );
  if (chat.isError) {
    return (
      <section className="col col-chat" aria-label={t("chat.messages")}>
        {back && <header className="chat-head">{back}</header>}
        <p className="list-note" role="alert">{errorText(chat.error, t)}</p>
      </section>
    );
  }

  const online = row ? isOnline([row.last_inbound_at, contact.data?.last_seen_at], now) : false;

  return (
    <section className="col col-chat" aria-label={t("chat.messages")}>
      <header className="chat-head">
        {back}
        {row && <Avatar name={row.display_name} online={online} size={40} />}
        <div className="chat-head-text">
          <h2 className="chat-title">{row?.display_name ?? "…"}</h2>
          {row && (
            <p className="chat-sub">
              <span className="channel-pill" style={{ background: channelColor(row.channel_source) }}>
                {t(`channel.${row.channel_source}` as MessageKey)}
              </span>
              {row.customer_phone && <span>{row.customer_phone}</span>}
              {row.platform_origin && <span className="origin" title={row.platform_origin}>{t("chat.via", { origin: row.platform_origin })}</span>}
              {/* A region that stays, so a screen reader announces "typing…" when it appears. */}
              <span className="typing-text" role="status">{typing ? t("chat.typing") : ""}</span>
              {!typing && online && <span className="online-text">{t("list.online")}</span>}
              <WindowChip state={window24} />
            </p>
          )}
        </div>
        {onShowContact && (
          <button type="button" className="icon-btn contact-btn" onClick={onShowContact} aria-label={t("chat.contactInfo")}
            title={t("chat.contactInfo")}>
            <InfoIcon width={20} height={20} />
          </button>
        )}
      </header>
      {row && <ChatStateBanners row={row} lock={lock} />}
      <MessageList conversationId={conversationId} window={messages.data} onWhy={setTraceId} lang={lang}
        contactName={row?.display_name ?? ""} focusMessageId={focusMessageId} />
      {row && (
        <Composer key={conversationId} conversationId={conversationId} locked={row.is_locked} userName={userName} windowState={window24}
          channelSource={row.channel_source} onTemplates={(notice) => setPicker({ notice })} />
      )}
      {traceId && <TraceDialog correlationId={traceId} onClose={() => setTraceId(null)} />}
      {picker && row && (
        <Suspense fallback={null}>
          <TemplatePicker conversationId={conversationId} channelId={row.channel_id} notice={picker.notice}
            onClose={() => setPicker(null)}
            onSent={(result) => {
              setPicker(null);
              showSent(client, conversationId, result.message);
            }} />
        </Suspense>
      )}
    </section>
  );
}

/** The 24-hour window in the chat's header: time left, or closed (WhatsApp only). */
function WindowChip({ state }: { state: WindowState }) {
  const { t, lang } = useI18n();
  if (state.kind === "none") return null;
  if (state.kind === "closed") {
    return (
      <span className="window-chip is-closed" title={t("window.closedTitle")} data-window="closed">
        <ClockIcon width={12} height={12} /> {state.closedAt === null ? t("window.never") : t("window.closed")}
      </span>
    );
  }
  return (
    <span className={`window-chip${state.warning ? " is-warning" : ""}`} data-window="open"
      title={t("window.openTitle", { time: formatTime(new Date(state.closesAt).toISOString(), lang) })}>
      <ClockIcon width={12} height={12} /> {t("window.open", { left: formatLeft(state.leftMs, t) })}
    </span>
  );
}

function MessageList({ conversationId, window: win, onWhy, lang, contactName, focusMessageId }: {
  conversationId: string; window: MessageWindow | undefined; onWhy: (cid: string) => void; lang: "es" | "en";
  contactName: string; focusMessageId?: number;
}) {
  const { t } = useI18n();
  const client = useQueryClient();
  const byId = useMemo(() => new Map((win?.messages ?? []).map((m) => [m.id, m])), [win?.messages]);
  const [retryError, setRetryError] = useState<{ id: number; text: string } | null>(null);
  const retry = useMutation({
    mutationFn: (id: number) => api.retryMessage(id),
    onMutate: () => setRetryError(null),
    // Queued again at once; the worker's progress comes as `message.updated` events.
    onSuccess: (message) => client.setQueryData<MessageWindow>(keys.messages(conversationId),
      (w) => replaceMessage(w, message)),
    onError: (err, id) => setRetryError({ id, text: t("chat.retryFailed", { message: errorText(err, t) }) }),
  });
  const onRetry = useCallback((id: number) => retry.mutate(id), [retry]);
  const onQuote = useCallback((id: number) => {
    const el = document.getElementById(`msg-${id}`);
    if (!el) return;
    el.scrollIntoView({ block: "center", behavior: "smooth" });
    el.classList.remove("is-flashing");
    void el.offsetWidth; // restart the highlight
    el.classList.add("is-flashing");
  }, []);
  const ref = useRef<HTMLDivElement>(null);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const anchor = useRef<{ height: number; top: number } | null>(null);
  const stickToBottom = useRef(true);
  const lastId = win?.messages.at(-1)?.id;
  const firstId = win?.messages[0]?.id;

  // Keep the view pinned to the newest message unless the agent scrolled up to read.
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    if (anchor.current) {
      el.scrollTop = el.scrollHeight - anchor.current.height + anchor.current.top;
      anchor.current = null;
    } else if (stickToBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
  }, [lastId, firstId]);

  // Images and players take their height only once loaded: stay pinned to the bottom as they do.
  const inner = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = ref.current;
    const content = inner.current;
    if (!el || !content || typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver(() => {
      if (stickToBottom.current && !anchor.current) el.scrollTop = el.scrollHeight;
    });
    observer.observe(content);
    return () => observer.disconnect();
  }, []);

  async function loadOlder() {
    if (!win || !win.hasOlder || loadingOlder || firstId === undefined) return;
    setLoadingOlder(true);
    try {
      const older = await api.messages(conversationId, { before_id: firstId, limit: PAGE });
      const el = ref.current;
      if (el) anchor.current = { height: el.scrollHeight, top: el.scrollTop };
      client.setQueryData<MessageWindow>(keys.messages(conversationId), (w) =>
        w ? { messages: mergeMessages(w.messages, older), hasOlder: older.length === PAGE } : w);
    } finally {
      setLoadingOlder(false);
    }
  }

  useJumpToMessage(focusMessageId, win, loadOlder, (id) => {
    stickToBottom.current = false;
    // At once, not smoothly: a smooth scroll's first steps still read as "at the bottom" in
    // onScroll, and the next resize (an image, a refetch after a reload) pinned the view back there.
    document.getElementById(`msg-${id}`)?.scrollIntoView({ block: "center" });
    onQuote(id);
    document.getElementById(`msg-${id}`)?.classList.add("is-found");
  });

  function onScroll() {
    const el = ref.current;
    if (!el) return;
    stickToBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
    if (el.scrollTop < 120) void loadOlder();
  }

  const assistantName = useAssistantName();
  const pictures = useImageViewer();
  const labels = { today: t("chat.today"), yesterday: t("chat.yesterday") };
  let previousDay = "";
  return (
    <div className="messages" ref={ref} onScroll={onScroll} role="log" aria-label={t("chat.messages")} aria-live="polite"
      onClick={pictures.onClick}>
      <div className="messages-inner" ref={inner}>
        {loadingOlder && <p className="day-sep" role="status"><span>{t("chat.loadingOlder")}</span></p>}
        {win && !win.hasOlder && win.messages.length > 0 && <p className="day-sep start"><span>{t("chat.start")}</span></p>}
        {win?.messages.map((m: Message) => {
          const day = dayKey(m.timestamp);
          const separator = day !== previousDay;
          previousDay = day;
          return (
            <Fragment key={m.id}>
              {separator && (
                <div className="day-sep" role="separator" aria-label={formatDayLabel(m.timestamp, lang, labels)}>
                  <span>{formatDayLabel(m.timestamp, lang, labels)}</span>
                </div>
              )}
              <ChatBubble message={m} byId={byId} conversationId={conversationId} onWhy={onWhy}
                assistantName={assistantName} contactName={contactName} onQuote={onQuote} onRetry={onRetry}
                retrying={retry.isPending && retry.variables === m.id}
                retryError={retryError?.id === m.id ? retryError.text : null} />
            </Fragment>
          );
        })}
      </div>
      {pictures.viewer}
    </div>
  );
}

/** A bubble with the message it quotes: from the chat when loaded, else fetched once. */
function ChatBubble({ message: m, byId, conversationId, ...rest }: {
  message: Message; byId: Map<number, Message>; conversationId: string; onWhy: (cid: string) => void;
  assistantName: string; contactName: string; onQuote: (id: number) => void; onRetry: (id: number) => void;
  retrying: boolean; retryError: string | null;
}) {
  const quotedId = m.reply_to_id ?? null;
  const local = quotedId !== null ? byId.get(quotedId) : undefined;
  const remote = useQuery({
    queryKey: keys.message(conversationId, quotedId ?? 0),
    queryFn: () => api.message(conversationId, quotedId!),
    enabled: quotedId !== null && !local,
    staleTime: Infinity,
    retry: 1,
  });
  let quoted: QuotedState | undefined;
  if (quotedId !== null) {
    const found = local ?? remote.data;
    quoted = found ? { state: "found", message: found }
      : remote.isError || remote.data === null ? { state: "missing" } : { state: "loading" };
  }
  return <MessageBubble message={m} quoted={quoted} {...rest} />;
}
