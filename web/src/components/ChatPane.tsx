import { Fragment, useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, keys } from "../api/endpoints";
import type { ChatSummary, Message } from "../api/types";
import { mergeMessages, type MessageWindow } from "../lib/cache";
import { channelColor } from "../lib/channels";
import { useDocumentVisible, useI18n, useLiveState, useNow } from "../lib/context";
import { dayKey, formatDayLabel, isOnline } from "../lib/dates";
import type { MessageKey } from "../i18n";
import { applyConversation, patchConversation } from "../lib/live";
import { useAssistantName } from "../lib/assistant";
import { Avatar } from "./common";
import { errorText } from "../lib/errors";
import { BackIcon, HandIcon, InfoIcon, SendIcon, SparkIcon } from "./icons";
import { MessageBubble } from "./MessageBubble";
import { TraceDialog } from "./TraceDialog";

const PAGE = 50;

interface PaneActions {
  /** On a phone: back to the list. */
  onBack?: () => void;
  /** Where the contact is a drawer: open it. */
  onShowContact?: () => void;
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

function OpenChat({ conversationId, userName, onBack, onShowContact }: PaneActions & {
  conversationId: string; userName: string;
}) {
  const { t, lang } = useI18n();
  const client = useQueryClient();
  const live = useLiveState();
  const now = useNow(30_000);
  const [traceId, setTraceId] = useState<string | null>(null);

  const chat = useQuery({ queryKey: keys.chat(conversationId), queryFn: () => api.chat(conversationId) });
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
              {online && <span className="online-text">{t("list.online")}</span>}
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
      {row && (
        <div className={`state-banner ${row.is_locked ? "is-human" : "is-ai"}`} role="region" aria-label={row.is_locked ? t("chat.human.banner") : t("chat.ai.banner")}>
          {row.is_locked ? <HandIcon /> : <SparkIcon />}
          <span className="state-text">{row.is_locked ? t("chat.human.banner") : t("chat.ai.banner")}</span>
          <span aria-hidden="true" className="state-sep">·</span>
          <button type="button" className={`btn btn-sm ${row.is_locked ? "btn-ai" : "btn-human"}`} disabled={lock.isPending}
            onClick={() => lock.mutate(!row.is_locked)}>
            {row.is_locked ? t("chat.human.handBack") : t("chat.ai.takeOver")}
          </button>
        </div>
      )}
      <MessageList conversationId={conversationId} window={messages.data} onWhy={setTraceId} lang={lang} />
      {row && <Composer conversationId={conversationId} locked={row.is_locked} userName={userName} />}
      {traceId && <TraceDialog correlationId={traceId} onClose={() => setTraceId(null)} />}
    </section>
  );
}

function MessageList({ conversationId, window: win, onWhy, lang }: {
  conversationId: string; window: MessageWindow | undefined; onWhy: (cid: string) => void; lang: "es" | "en";
}) {
  const { t } = useI18n();
  const client = useQueryClient();
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

  function onScroll() {
    const el = ref.current;
    if (!el) return;
    stickToBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
    if (el.scrollTop < 120) void loadOlder();
  }

  const assistantName = useAssistantName();
  const labels = { today: t("chat.today"), yesterday: t("chat.yesterday") };
  let previousDay = "";
  return (
    <div className="messages" ref={ref} onScroll={onScroll} role="log" aria-label={t("chat.messages")} aria-live="polite">
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
              <MessageBubble message={m} onWhy={onWhy} assistantName={assistantName} />
            </Fragment>
          );
        })}
      </div>
    </div>
  );
}

function Composer({ conversationId, locked, userName }: { conversationId: string; locked: boolean; userName: string }) {
  const { t } = useI18n();
  const client = useQueryClient();
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const ref = useRef<HTMLTextAreaElement>(null);
  const send = useMutation({
    mutationFn: (message: string) => api.send(conversationId, message),
    onSuccess: (result) => {
      setText("");
      setError(null);
      client.setQueryData<MessageWindow>(keys.messages(conversationId),
        (w) => (w ? { ...w, messages: mergeMessages(w.messages, [result.message]) } : w));
      const row = client.getQueryData<ChatSummary>(keys.chat(conversationId));
      if (row) {
        applyConversation(client, {
          ...row, is_locked: result.is_locked, last_message: result.message.content, timestamp: result.message.timestamp,
        });
      }
    },
    onError: (err) => setError(t("chat.sendFailed", { message: errorText(err, t) })),
  });

  // Grow the box with its text, up to a few lines.
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight, 160)}px`;
  }, [text]);

  function submit() {
    const message = text.trim();
    if (!message || send.isPending) return;
    send.mutate(message);
  }

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      submit();
    }
  }

  return (
    <form className="composer" onSubmit={(e) => { e.preventDefault(); submit(); }}>
      <p className={`composer-hint${locked ? "" : " is-warning"}`} id="composer-hint">
        {locked ? `${userName} · ${t("chat.composer.hintHuman")}` : t("chat.composer.hintAi")}
      </p>
      {error && <p className="form-error" role="alert">{error}</p>}
      <div className="composer-row">
        <textarea id="composer" ref={ref} rows={1} aria-label={t("chat.composer")} placeholder={`${t("chat.composer")} (/)`}
          aria-describedby="composer-hint" value={text} onChange={(e) => setText(e.target.value)} onKeyDown={onKeyDown}
          maxLength={4096} />
        <button type="submit" className="send-btn" aria-label={t("chat.send")} title={t("chat.send")}
          disabled={!text.trim() || send.isPending}>
          <SendIcon width={18} height={18} />
        </button>
      </div>
    </form>
  );
}
