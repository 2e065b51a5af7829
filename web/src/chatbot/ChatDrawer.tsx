// The panel chatbot (seed 002): a drawer opened from the header, over any panel screen. Streams the
// assistant's answers (Markdown), uploads files by drag-and-drop or the clip with progress, shows
// the files a tool produced and its map in place, the connection's state, the conversation's
// history, and starts a new conversation. Loaded only when first opened (its own chunk).
import { useEffect, useRef, useState, type DragEvent, type FormEvent, type KeyboardEvent } from "react";
import Markdown from "react-markdown";
import { request } from "../api/client";
import type { MessageKey } from "../i18n";
import { useI18n } from "../lib/context";
import { errorText } from "../lib/errors";
import { useReturnFocus } from "../components/common";
import { CloseIcon, FileIcon, SendIcon, UploadIcon } from "../components/icons";
import { resultLinks, type Attachment, type ChatItem } from "./protocol";
import { uploadFile } from "./upload";
import { useChatSocket, type ChatConnection } from "./useChatSocket";
import "./chatbot.css";

const ACCEPT = ".xlsx,.xlsm,.csv,.txt,.json,.pdf,.docx";
const KNOWN_CODES = ["WS_BAD_REQUEST", "WS_UNAUTHORIZED", "WS_TOOL_ERROR", "WS_INTERNAL_ERROR", "WS_SESSION_ERROR",
  "TOOL_NOT_FOUND", "TOOL_FORBIDDEN", "TOOL_INTERNAL_ERROR", "INVALID_TOOL_ARGS", "FILE_NOT_FOUND", "INVALID_FILE",
  "MISSING_COLUMNS"];

interface PendingUpload {
  id: number;
  name: string;
  progress: number;
  error?: string;
  done?: Attachment;
}

export default function ChatDrawer({ onClose }: { onClose: () => void }) {
  const { t } = useI18n();
  const { conversation, connection, sendMessage, startOver } = useChatSocket(true);
  const [text, setText] = useState("");
  const [uploads, setUploads] = useState<PendingUpload[]>([]);
  const [dragging, setDragging] = useState(false);
  const [newError, setNewError] = useState<string | null>(null);
  const input = useRef<HTMLTextAreaElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const end = useRef<HTMLDivElement>(null);
  const uploadIds = useRef(0);

  useReturnFocus(); // before the focus moves to its input
  useEffect(() => { input.current?.focus(); }, []);
  useEffect(() => { end.current?.scrollIntoView({ block: "end" }); }, [conversation.items]);
  useEffect(() => {
    const onKey = (e: globalThis.KeyboardEvent) => { if (e.key === "Escape") onClose(); };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);

  function addFiles(files: FileList | File[]) {
    for (const file of Array.from(files)) {
      const id = ++uploadIds.current;
      setUploads((list) => [...list, { id, name: file.name, progress: 0 }]);
      uploadFile(file, (progress) => setUploads((list) => list.map((u) => (u.id === id ? { ...u, progress } : u))))
        .then((done) => setUploads((list) => list.map((u) => (u.id === id ? { ...u, progress: 1, done } : u))))
        .catch((err: unknown) => setUploads((list) => list.map((u) => (u.id === id ? { ...u, error: errorText(err, t) } : u))));
    }
  }

  const ready = uploads.filter((u) => u.done).map((u) => u.done as Attachment);
  const uploading = uploads.some((u) => !u.done && !u.error);
  const canSend = connection === "open" && !conversation.busy && !uploading && (text.trim() !== "" || ready.length > 0);

  function submit(e?: FormEvent) {
    e?.preventDefault();
    if (!canSend) return;
    if (sendMessage(text.trim(), ready)) {
      setText("");
      setUploads([]);
    }
  }

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      submit();
    }
  }

  async function newConversation() {
    setNewError(null);
    try {
      const session = await request<{ id: number }>("POST", "/api/chat/sessions");
      startOver(session.id);
    } catch (err) {
      setNewError(errorText(err, t));
    }
  }

  function onDrop(e: DragEvent) {
    e.preventDefault();
    setDragging(false);
    if (e.dataTransfer.files.length) addFiles(e.dataTransfer.files);
  }

  return (
    <aside className="chatbot" role="dialog" aria-modal="false" aria-label={t("chatbot.title")}
      onDragOver={(e) => { e.preventDefault(); setDragging(true); }} onDragLeave={(e) => {
        if (e.currentTarget === e.target) setDragging(false);
      }} onDrop={onDrop}>
      <header className="chatbot-head">
        <h2>{t("chatbot.title")}</h2>
        <ConnectionBadge connection={connection} />
        <button type="button" className="btn chatbot-new" onClick={newConversation}
          disabled={connection !== "open" || conversation.busy}>{t("chatbot.new")}</button>
        <button type="button" className="icon-btn" onClick={onClose} aria-label={t("chatbot.close")}
          title={t("chatbot.close")}><CloseIcon /></button>
      </header>
      {newError && <p className="chatbot-alert" role="alert">{newError}</p>}
      <div className="chatbot-log" role="log" aria-live="polite" aria-busy={conversation.busy}>
        {conversation.items.length === 0 && <p className="chatbot-empty">{t("chatbot.empty")}</p>}
        {conversation.items.map((item) => <Message key={item.key} item={item} />)}
        <div ref={end} />
      </div>
      {dragging && <div className="chatbot-drop" aria-hidden="true">{t("chatbot.drop")}</div>}
      <form className="chatbot-compose" onSubmit={submit}>
        {uploads.length > 0 && (
          <ul className="chatbot-uploads" aria-label={t("chatbot.files")}>
            {uploads.map((u) => (
              <li key={u.id} className={u.error ? "failed" : u.done ? "done" : ""}>
                <FileIcon width={14} height={14} /> <span className="name">{u.name}</span>
                {!u.done && !u.error && (
                  <progress max={1} value={u.progress} aria-label={t("chatbot.uploading", { name: u.name })} />
                )}
                {u.error && <span className="err">{u.error}</span>}
                <button type="button" className="link" onClick={() => setUploads((l) => l.filter((x) => x.id !== u.id))}
                  aria-label={t("chatbot.remove", { name: u.name })}>×</button>
              </li>
            ))}
          </ul>
        )}
        <div className="chatbot-row">
          <button type="button" className="icon-btn" onClick={() => fileInput.current?.click()}
            aria-label={t("chatbot.attach")} title={t("chatbot.attach")}><UploadIcon /></button>
          <input ref={fileInput} type="file" accept={ACCEPT} multiple hidden data-testid="chatbot-file"
            onChange={(e) => { if (e.target.files) addFiles(e.target.files); e.target.value = ""; }} />
          <textarea ref={input} rows={2} value={text} onChange={(e) => setText(e.target.value)} onKeyDown={onKeyDown}
            placeholder={t("chatbot.placeholder")} aria-label={t("chatbot.placeholder")} />
          <button type="submit" className="icon-btn chatbot-send" disabled={!canSend} aria-label={t("chatbot.send")}
            title={t("chatbot.send")}><SendIcon /></button>
        </div>
      </form>
    </aside>
  );
}

function ConnectionBadge({ connection }: { connection: ChatConnection }) {
  const { t } = useI18n();
  const label = t(`chatbot.state.${connection}` as MessageKey);
  return (
    <span className={`chatbot-state chatbot-state-${connection}`} role="status" aria-live="polite">
      <span className="dot" aria-hidden="true" /> {label}
      {connection === "expired" && <> <a href={`/login?next=${encodeURIComponent(window.location.pathname)}`}>{t("chatbot.login")}</a></>}
    </span>
  );
}

function Message({ item }: { item: ChatItem }) {
  const { t } = useI18n();
  const [showMap, setShowMap] = useState(false);
  const links = resultLinks(item.result);
  const map = links.find((l) => l.kind === "map");
  const codeKey = item.code && KNOWN_CODES.includes(item.code) ? (`chatbot.code.${item.code}` as MessageKey) : null;
  return (
    <article className={`chatbot-msg chatbot-${item.role}${item.code ? " chatbot-error" : ""}`}
      aria-label={item.role === "user" ? t("chatbot.you") : t("chatbot.assistant")}>
      {item.code && (
        <p className="chatbot-code" role="alert">{codeKey ? t(codeKey) : item.code}</p>
      )}
      {item.role === "assistant"
        ? <div className="chatbot-md"><Markdown components={{ a: ({ href, children }) => (
            <a href={href} target={href?.startsWith("/reports/") ? "_blank" : undefined} rel="noopener">{children}</a>
          ) }}>{item.content}</Markdown></div>
        : <p className="chatbot-text">{item.content}</p>}
      {item.attachments && item.attachments.length > 0 && (
        <ul className="chatbot-attached">
          {item.attachments.map((a) => <li key={a.path}><FileIcon width={12} height={12} /> {a.name}</li>)}
        </ul>
      )}
      {links.length > 0 && (
        <nav className="chatbot-results" aria-label={t("chatbot.results")}>
          {links.map((l) => (
            <a key={l.kind} className="btn" href={l.url} target="_blank" rel="noopener"
              download={l.kind === "map" ? undefined : ""}>{t(`chatbot.link.${l.kind}` as MessageKey)}</a>
          ))}
          {map && (
            <button type="button" className="btn" onClick={() => setShowMap((v) => !v)} aria-expanded={showMap}>
              {showMap ? t("chatbot.hideMap") : t("chatbot.showMap")}
            </button>
          )}
        </nav>
      )}
      {map && showMap && <iframe className="chatbot-map" src={map.url} title={t("chatbot.link.map")} />}
    </article>
  );
}
