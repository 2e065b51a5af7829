// The composer: replies to the customer and private notes for the team.
import { useLayoutEffect, useRef, useState, type KeyboardEvent } from "react";
import { useMutation, useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { ApiError } from "../api/client";
import { api, keys } from "../api/endpoints";
import type { CannedResponse, ChatSummary, Message, WindowClosedInfo } from "../api/types";
import { mergeMessages, type MessageWindow } from "../lib/cache";
import { filterCanned, insertAt, slashQuery } from "../lib/composer";
import { useI18n } from "../lib/context";
import { errorText } from "../lib/errors";
import { applyConversation, patchConversation } from "../lib/live";
import type { WindowState } from "../lib/window";
import { LockIcon, SendIcon } from "./icons";
import "./composer.css";

/** A message we just sent, in this chat and on its row of the list (the server's events follow). */
export function showSent(client: QueryClient, conversationId: string, message: Message, isLocked?: boolean): void {
  client.setQueryData<MessageWindow>(keys.messages(conversationId),
    (w) => (w ? { ...w, messages: mergeMessages(w.messages, [message]) } : w));
  const row = client.getQueryData<ChatSummary>(keys.chat(conversationId));
  if (row) {
    applyConversation(client, {
      ...row, is_locked: isLocked ?? row.is_locked, last_message: message.content, timestamp: message.timestamp,
    });
  }
}

/** A note we just wrote: in this chat only (a note moves nothing on the list's row). */
function showNote(client: QueryClient, conversationId: string, note: Message): void {
  client.setQueryData<MessageWindow>(keys.messages(conversationId),
    (w) => (w ? { ...w, messages: mergeMessages(w.messages, [note]) } : w));
}

type Mode = "reply" | "note";

export function Composer({ conversationId, locked, userName, windowState: window24, onTemplates }: {
  conversationId: string; locked: boolean; userName: string; windowState: WindowState;
  onTemplates: (notice?: string) => void;
}) {
  const { t } = useI18n();
  const client = useQueryClient();
  const [mode, setMode] = useState<Mode>("reply");
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const ref = useRef<HTMLTextAreaElement>(null);
  // The `/shortcut` under the caret, the option picked in its list, and a list closed with Escape.
  const [caret, setCaret] = useState(0);
  const [active, setActive] = useState(0);
  const [dismissedAt, setDismissedAt] = useState<number | null>(null);
  const slash = slashQuery(text, caret);
  const slashOpen = slash !== null && dismissedAt !== slash.start;
  const canned = useQuery({ queryKey: keys.canned, queryFn: api.cannedResponses, enabled: slashOpen, staleTime: 60_000 });
  const matches = slashOpen ? filterCanned(canned.data ?? [], slash.query).slice(0, 8) : [];
  const send = useMutation({
    mutationFn: (message: string) => api.send(conversationId, message),
    onSuccess: (result) => {
      setText("");
      setError(null);
      showSent(client, conversationId, result.message, result.is_locked);
    },
    onError: (err) => {
      if (err instanceof ApiError && err.code === "window_closed") {
        // The window closed meanwhile: the header says so, and the picker opens with the reason.
        const info = err.extra as WindowClosedInfo;
        patchConversation(client, conversationId,
          info.closed_at ? { window_open_until: info.closed_at } : { window_open_until: null, last_inbound_at: null });
        setError(null);
        onTemplates(t("window.refused"));
        return;
      }
      setError(t("chat.sendFailed", { message: errorText(err, t) }));
    },
  });
  const note = useMutation({
    mutationFn: (content: string) => api.addNote(conversationId, content),
    onSuccess: (message) => {
      setText("");
      setError(null);
      showNote(client, conversationId, message);
    },
    onError: (err) => setError(t("composer.noteFailed", { message: errorText(err, t) })),
  });
  const pending = send.isPending || note.isPending;

  // Grow the box with its text, up to a few lines.
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight, 160)}px`;
  }, [text, mode]);

  function submit() {
    const message = text.trim();
    if (!message || pending) return;
    if (mode === "note") note.mutate(message);
    else send.mutate(message);
  }

  /** Put text where the caret (or the selection) is, and the caret after it. */
  function insertText(insert: string, start?: number) {
    // In place of the selection, or of the typed `/shortcut` (from `start` to the caret).
    const el = ref.current;
    const from = start ?? el?.selectionStart ?? text.length;
    const to = start !== undefined ? caret : el?.selectionEnd ?? from;
    const next = insertAt(text, from, Math.max(from, to), insert);
    setText(next.text);
    setCaret(next.caret);
    requestAnimationFrame(() => {
      ref.current?.focus();
      ref.current?.setSelectionRange(next.caret, next.caret);
    });
  }

  function pickCanned(choice: CannedResponse) {
    if (!slash) return;
    insertText(choice.content, slash.start);
    setActive(0);
  }

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (slashOpen && !e.nativeEvent.isComposing) {
      if (e.key === "Escape") {
        e.preventDefault();
        setDismissedAt(slash.start);
        return;
      }
      if (matches.length > 0) {
        if (e.key === "ArrowDown" || e.key === "ArrowUp") {
          e.preventDefault();
          const step = e.key === "ArrowDown" ? 1 : -1;
          setActive((i) => (i + step + matches.length) % matches.length);
          return;
        }
        if (e.key === "Enter" || e.key === "Tab") {
          e.preventDefault();
          pickCanned(matches[Math.min(active, matches.length - 1)]);
          return;
        }
      }
    }
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      submit();
    }
  }

  function choose(next: Mode) {
    setMode(next);
    setError(null);
    ref.current?.focus();
  }

  const tabs = (
    <div className="composer-modes" role="radiogroup" aria-label={t("composer.mode")}>
      <button type="button" role="radio" aria-checked={mode === "reply"} className={mode === "reply" ? "is-active" : ""}
        onClick={() => choose("reply")}>{t("composer.reply")}</button>
      <button type="button" role="radio" aria-checked={mode === "note"} className={`is-note${mode === "note" ? " is-active" : ""}`}
        onClick={() => choose("note")}><LockIcon width={12} height={12} aria-hidden="true" /> {t("composer.note")}</button>
    </div>
  );

  if (mode === "reply" && window24.kind === "closed") {
    return (
      <div className="composer composer-closed">
        {tabs}
        <p className="composer-hint is-warning" role="note">{t("window.composerClosed")}</p>
        <button type="button" className="btn btn-primary templates-btn" onClick={() => onTemplates()}>
          {t("templates.open")}
        </button>
      </div>
    );
  }

  const isNote = mode === "note";
  return (
    <form className={`composer${isNote ? " is-note" : ""}`} onSubmit={(e) => { e.preventDefault(); submit(); }}>
      <div className="composer-top">
        {tabs}
        <p className={`composer-hint${locked || isNote ? "" : " is-warning"}`} id="composer-hint">
          {isNote ? t("composer.noteHint")
            : locked ? `${userName} · ${t("chat.composer.hintHuman")}` : t("chat.composer.hintAi")}
        </p>
      </div>
      {error && <p className="form-error" role="alert">{error}</p>}
      {slashOpen && (
        <CannedList matches={matches} active={Math.min(active, Math.max(matches.length - 1, 0))} query={slash.query}
          loading={canned.isPending} empty={canned.data?.length === 0} onPick={pickCanned} onHover={setActive} />
      )}
      <div className="composer-row">
        <textarea id="composer" ref={ref} rows={1} aria-label={isNote ? t("composer.note") : t("chat.composer")}
          placeholder={isNote ? t("composer.notePlaceholder") : `${t("chat.composer")} (/)`}
          aria-describedby="composer-hint" value={text} onKeyDown={onKeyDown} maxLength={4096}
          onChange={(e) => { setText(e.target.value); setCaret(e.target.selectionStart); setActive(0); }}
          onSelect={(e) => setCaret(e.currentTarget.selectionStart)}
          role="combobox" aria-autocomplete="list" aria-expanded={slashOpen} aria-controls="canned-list"
          aria-activedescendant={slashOpen && matches.length ? `canned-${matches[Math.min(active, matches.length - 1)].id}` : undefined} />
        {!isNote && window24.kind === "open" && (
          <button type="button" className="icon-btn templates-icon" onClick={() => onTemplates()}
            aria-label={t("templates.open")} title={t("templates.open")}>📋</button>
        )}
        <button type="submit" className="send-btn" aria-label={isNote ? t("composer.addNote") : t("chat.send")}
          title={isNote ? t("composer.addNote") : t("chat.send")} disabled={!text.trim() || pending}>
          {isNote ? <LockIcon width={18} height={18} /> : <SendIcon width={18} height={18} />}
        </button>
      </div>
    </form>
  );
}

/** The canned responses matching the `/shortcut` being typed (a listbox the textarea drives). */
function CannedList({ matches, active, query, loading, empty, onPick, onHover }: {
  matches: CannedResponse[]; active: number; query: string; loading: boolean; empty: boolean;
  onPick: (c: CannedResponse) => void; onHover: (i: number) => void;
}) {
  const { t } = useI18n();
  return (
    <div className="canned-pop">
      <ul id="canned-list" role="listbox" aria-label={t("composer.canned")}>
        {matches.map((c, i) => (
          <li key={c.id} id={`canned-${c.id}`} role="option" aria-selected={i === active}
            className={i === active ? "is-active" : undefined}
            onMouseDown={(e) => { e.preventDefault(); onPick(c); }} onMouseEnter={() => onHover(i)}>
            <span className="canned-head"><code>/{c.shortcut}</code> <strong>{c.title}</strong></span>
            <span className="canned-text">{c.content}</span>
          </li>
        ))}
      </ul>
      {!loading && matches.length === 0 && (
        <p className="canned-none">{empty ? t("composer.cannedEmpty") : t("composer.cannedNone", { query })}</p>
      )}
      <p className="canned-hint">{t("composer.cannedHint")}</p>
    </div>
  );
}
