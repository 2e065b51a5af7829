// The composer: replies to the customer (text, one file, emoji, canned responses after `/`) and
// private notes for the team; what is being written is kept per conversation as a draft.
import {
  lazy, Suspense, useEffect, useLayoutEffect, useRef, useState, type ClipboardEvent, type DragEvent, type KeyboardEvent,
} from "react";
import { useMutation, useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { ApiError } from "../api/client";
import { api, keys } from "../api/endpoints";
import type { CannedResponse, ChatSummary, Message, UploadedMedia, WindowClosedInfo } from "../api/types";
import { mergeMessages, type MessageWindow } from "../lib/cache";
import {
  ACCEPT, checkFile, draftKey, filterCanned, insertAt, loadDraft, saveDraft, slashQuery, type FileKind,
} from "../lib/composer";
import { useI18n } from "../lib/context";
import { errorText } from "../lib/errors";
import { applyConversation, patchConversation } from "../lib/live";
import { TypingThrottle } from "../lib/typing";
import type { WindowState } from "../lib/window";
import { ClipIcon, CloseIcon, FileIcon, LockIcon, SendIcon, SmileIcon } from "./icons";
import { useSession } from "./Panel";
import "./composer.css";

// Opened only when wanted: its own chunk, outside the first load.
const EmojiPicker = lazy(() => import("./EmojiPicker").then((m) => ({ default: m.EmojiPicker })));

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

/** The file being attached: checked, uploading (with progress), ready to send, or refused. */
interface PickedFile {
  file: File;
  kind?: FileKind;
  preview: string | null;
  progress: number;
  media?: UploadedMedia;
  error?: string;
}

function formatMb(bytes: number): string {
  return `${Math.round(bytes / (1024 * 1024))} MB`;
}

export function Composer({ conversationId, locked, userName, windowState: window24, onTemplates, channelSource }: {
  conversationId: string; locked: boolean; userName: string; windowState: WindowState; channelSource?: string;
  onTemplates: (notice?: string) => void;
}) {
  const { t } = useI18n();
  const client = useQueryClient();
  const tenantId = useSession().data?.tenant?.id ?? "";
  // Writing takes over only where an enabled assistant answers: the same answer the chat's banner
  // reads (one query, shared by its key); until it is known, no claim about the AI is made.
  const answering = useQuery({ queryKey: keys.answering(conversationId), queryFn: () => api.answering(conversationId) });
  const aiAnswers = answering.data?.ai_answers === true;
  const key = draftKey(tenantId, conversationId);
  // What was being written here last time (this tab or an earlier visit), until it is sent.
  const [restored] = useState(() => loadDraft(key));
  const [mode, setMode] = useState<Mode>(restored?.mode ?? "reply");
  const [text, setText] = useState(restored?.text ?? "");
  const [error, setError] = useState<string | null>(null);
  const [picked, setPicked] = useState<PickedFile | null>(null);
  const [dragging, setDragging] = useState(false);
  const [emojiOpen, setEmojiOpen] = useState(false);
  const ref = useRef<HTMLTextAreaElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const emojiButton = useRef<HTMLButtonElement>(null);
  // The `/shortcut` under the caret, the option picked in its list, and a list closed with Escape.
  const [caret, setCaret] = useState(0);
  const [active, setActive] = useState(0);
  const [dismissedAt, setDismissedAt] = useState<number | null>(null);
  // The visitor of a web chat sees "typing…" while the agent writes a reply (never a note). The
  // composer is keyed by conversation, so one throttle per chat; leaving the chat says "stopped".
  const [typing] = useState(() => new TypingThrottle((on) => { api.typing(conversationId, on).catch(() => {}); }));
  const tellsTyping = channelSource === "web";
  useEffect(() => () => typing.stop(), [typing]);
  const slash = slashQuery(text, caret);
  const slashOpen = slash !== null && dismissedAt !== slash.start;
  const canned = useQuery({ queryKey: keys.canned, queryFn: api.cannedResponses, enabled: slashOpen, staleTime: 60_000 });
  const matches = slashOpen ? filterCanned(canned.data ?? [], slash.query).slice(0, 8) : [];

  useEffect(() => {
    if (tenantId) saveDraft(key, { text, mode });
  }, [key, tenantId, text, mode]);
  // A preview's object URL lives as long as the preview.
  useEffect(() => () => { if (picked?.preview) URL.revokeObjectURL(picked.preview); }, [picked?.preview]);

  const upload = useMutation({
    mutationFn: (file: File) => api.uploadMedia(file, (progress) =>
      setPicked((p) => (p && p.file === file ? { ...p, progress } : p))),
    onSuccess: (media, file) => setPicked((p) => (p && p.file === file ? { ...p, media, progress: 1 } : p)),
    onError: (err, file) => setPicked((p) => (p && p.file === file ? { ...p, error: errorText(err, t) } : p)),
  });
  const send = useMutation({
    mutationFn: ({ message, media }: { message: string; media?: UploadedMedia }) => api.send(conversationId, message,
      media ? [{ type: media.type, media_id: media.id, filename: media.filename }] : []),
    onSuccess: (result, { media }) => {
      if (!media || media.type !== "audio") setText("");
      typing.stop(); // the server then lets the next "on" through at once
      setPicked(null);
      setError(null);
      showSent(client, conversationId, result.message, result.is_locked);
    },
    onError: (err) => {
      if (err instanceof ApiError && err.code === "window_closed"
          && (channelSource === "facebook" || channelSource === "instagram")) {
        // Messenger and Instagram have no templates: only the human agent tag helps (a channel setting).
        setError(t("window.refusedMeta"));
        return;
      }
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
  const isNote = mode === "note";
  const fileReady = !!picked?.media && !picked.error;
  const canSend = !pending && (isNote ? !!text.trim() : picked ? fileReady : !!text.trim());

  // Grow the box with its text, up to a few lines.
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight, 160)}px`;
  }, [text, mode]);

  function submit() {
    if (!canSend) return;
    const message = text.trim();
    if (isNote) note.mutate(message);
    // An audio carries no text (WhatsApp): it leaves alone and the text stays in the box.
    else if (picked?.media) send.mutate({ message: picked.media.type === "audio" ? "" : message, media: picked.media });
    else send.mutate({ message });
  }

  /** A file chosen, dropped or pasted: checked here first, then uploaded at once. */
  function attach(file: File | undefined) {
    if (!file || isNote) return;
    const checked = checkFile(file);
    const preview = checked.ok && (checked.kind === "image" || checked.kind === "video") ? URL.createObjectURL(file) : null;
    if (!checked.ok) {
      const message = checked.reason === "size" ? t("error.media_too_large") + ` (${formatMb(checked.limit ?? 0)})`
        : t("error.unsupported_media_type");
      setPicked({ file, preview, progress: 0, error: message });
      return;
    }
    setPicked({ file, kind: checked.kind, preview, progress: 0 });
    upload.mutate(file);
  }

  function removeFile() {
    setPicked(null);
    ref.current?.focus();
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

  function onPaste(e: ClipboardEvent<HTMLTextAreaElement>) {
    const file = e.clipboardData.files[0];
    if (file && !isNote) {
      e.preventDefault();
      attach(file);
    }
  }

  function onDragOver(e: DragEvent) {
    if (isNote || !e.dataTransfer.types.includes("Files")) return;
    e.preventDefault();
    setDragging(true);
  }

  function onDrop(e: DragEvent) {
    if (isNote) return;
    e.preventDefault();
    setDragging(false);
    attach(e.dataTransfer.files[0]);
  }

  function closeEmoji() {
    setEmojiOpen(false);
    emojiButton.current?.focus();
  }

  function choose(next: Mode) {
    setMode(next);
    if (next === "note") typing.stop();
    setError(null);
    if (next === "note") setPicked(null);
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

  const sendLabel = isNote ? t("composer.addNote") : t("chat.send");
  return (
    <form className={`composer${isNote ? " is-note" : ""}`} onSubmit={(e) => { e.preventDefault(); submit(); }}
      onDragOver={onDragOver} onDragLeave={() => setDragging(false)} onDrop={onDrop}>
      <div className="composer-top">
        {tabs}
        <p className={`composer-hint${locked || isNote || !aiAnswers ? "" : " is-warning"}`} id="composer-hint">
          {isNote ? t("composer.noteHint")
            : locked ? `${userName} · ${t("chat.composer.hintHuman")}`
              : aiAnswers ? t("chat.composer.hintAi") : t("chat.composer.hintHuman")}
        </p>
        {restored && text === restored.text && <span className="composer-draft" role="status">{t("composer.draftRestored")}</span>}
      </div>
      {error && <p className="form-error" role="alert">{error}</p>}
      {picked && <FilePreview picked={picked} onRemove={removeFile} />}
      {slashOpen && (
        <CannedList matches={matches} active={Math.min(active, Math.max(matches.length - 1, 0))} query={slash.query}
          loading={canned.isPending} empty={canned.data?.length === 0} onPick={pickCanned} onHover={setActive} />
      )}
      {emojiOpen && (
        <Suspense fallback={null}>
          <EmojiPicker onPick={(emoji) => insertText(emoji)} onClose={closeEmoji} />
        </Suspense>
      )}
      {dragging && <div className="composer-drop" aria-hidden="true">{t("composer.dropHere")}</div>}
      <div className="composer-row">
        {!isNote && (
          <>
            <button type="button" className="icon-btn composer-tool" onClick={() => fileInput.current?.click()}
              aria-label={t("composer.attach")} title={t("composer.attach")} disabled={pending}>
              <ClipIcon width={20} height={20} />
            </button>
            <input ref={fileInput} type="file" hidden accept={ACCEPT} data-testid="composer-file"
              onChange={(e) => { attach(e.target.files?.[0]); e.target.value = ""; }} />
          </>
        )}
        <button type="button" className="icon-btn composer-tool" ref={emojiButton} aria-expanded={emojiOpen}
          aria-label={t("composer.emoji")} title={t("composer.emoji")} onClick={() => (emojiOpen ? closeEmoji() : setEmojiOpen(true))}>
          <SmileIcon width={20} height={20} />
        </button>
        <textarea id="composer" ref={ref} rows={1} aria-label={isNote ? t("composer.note") : t("chat.composer")}
          placeholder={isNote ? t("composer.notePlaceholder") : picked ? t("composer.caption") : `${t("chat.composer")} (/)`}
          aria-describedby="composer-hint" value={text} onKeyDown={onKeyDown} onPaste={onPaste} maxLength={4096}
          onChange={(e) => {
            setText(e.target.value);
            setCaret(e.target.selectionStart);
            setActive(0);
            if (tellsTyping && !isNote) typing.input(e.target.value);
          }}
          onSelect={(e) => setCaret(e.currentTarget.selectionStart)}
          role="combobox" aria-autocomplete="list" aria-expanded={slashOpen} aria-controls="canned-list"
          aria-activedescendant={slashOpen && matches.length ? `canned-${matches[Math.min(active, matches.length - 1)].id}` : undefined} />
        {!isNote && window24.kind === "open" && (
          <button type="button" className="icon-btn templates-icon" onClick={() => onTemplates()}
            aria-label={t("templates.open")} title={t("templates.open")}>📋</button>
        )}
        <button type="submit" className="send-btn" aria-label={sendLabel} title={sendLabel} disabled={!canSend}>
          {isNote ? <LockIcon width={18} height={18} /> : <SendIcon width={18} height={18} />}
        </button>
      </div>
    </form>
  );
}

/** The attached file: its preview, its upload's progress, what went wrong, and a way to remove it. */
function FilePreview({ picked, onRemove }: { picked: PickedFile; onRemove: () => void }) {
  const { t } = useI18n();
  const name = picked.file.name;
  const uploading = !picked.media && !picked.error;
  return (
    <div className={`composer-file${picked.error ? " is-failed" : ""}`} data-file-state={picked.error ? "failed" : uploading ? "uploading" : "ready"}>
      {picked.preview && picked.kind === "image" ? <img src={picked.preview} alt={name} />
        : picked.preview && picked.kind === "video" ? <video src={picked.preview} muted />
        : <span className="file-icon"><FileIcon width={22} height={22} /></span>}
      <div className="composer-file-text">
        <span className="composer-file-name" title={name}>{name}</span>
        {uploading && (
          <>
            <progress max={1} value={picked.progress} aria-label={t("composer.uploading", { name, percent: Math.round(picked.progress * 100) })} />
            <span className="muted small" role="status">{t("composer.uploading", { name, percent: Math.round(picked.progress * 100) })}</span>
          </>
        )}
        {picked.error && <span className="file-error" role="alert">{t("composer.uploadFailed", { name, message: picked.error })}</span>}
        {picked.media?.type === "audio" && <span className="muted small">{t("composer.audioNoCaption")}</span>}
      </div>
      <button type="button" className="icon-btn" onClick={onRemove} aria-label={t("composer.removeFile", { name })}
        title={t("composer.removeFile", { name })}>
        <CloseIcon width={16} height={16} />
      </button>
    </div>
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
