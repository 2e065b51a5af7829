import { memo } from "react";
import type { Attachment, Message } from "../api/types";
import { useI18n } from "../lib/context";
import { formatTime } from "../lib/dates";
import type { MessageKey } from "../i18n";
import { AlertIcon, CheckIcon, ClockIcon, DoubleCheckIcon, DownloadIcon, FileIcon, SparkIcon } from "./icons";

export const MessageBubble = memo(function MessageBubble({ message: m, onWhy, assistantName }: {
  message: Message; onWhy: (cid: string) => void; assistantName: string;
}) {
  const { t, lang } = useI18n();
  if (m.author === "system") {
    return (
      <div className="system-note" role="note" aria-label={t("chat.system")}>
        <span>{m.content}</span> <time dateTime={m.timestamp}>{formatTime(m.timestamp, lang)}</time>
      </div>
    );
  }
  const outbound = m.author !== "contact";
  const who = m.author === "ai" ? assistantName : m.author === "human" ? (m.author_name || t("chat.agent")) : null;
  return (
    <div className={`msg-row ${outbound ? "out" : "in"}`}>
      <article className={`bubble bubble-${m.author}${m.status === "failed" ? " is-failed" : ""}`}
        aria-label={who ?? undefined} data-author={m.author}>
        {who && (
          <header className="bubble-author">
            {m.author === "ai" && <SparkIcon width={12} height={12} />} {who}
          </header>
        )}
        {m.attachments?.map((a, i) => <AttachmentView key={`${a.url}-${i}`} attachment={a} />)}
        {m.content && <p className="bubble-text">{m.content}</p>}
        <footer className="bubble-foot">
          {m.author === "ai" && m.correlation_id && (
            <button type="button" className="why-btn" onClick={() => onWhy(m.correlation_id!)} aria-label={t("chat.whyLabel")}>
              {t("chat.why")}
            </button>
          )}
          <time dateTime={m.timestamp}>{formatTime(m.timestamp, lang)}</time>
          {outbound && <StatusMark status={m.status} />}
        </footer>
        {m.status === "failed" && m.error && <p className="bubble-error" role="note">{m.error}</p>}
      </article>
    </div>
  );
});

function StatusMark({ status }: { status: string }) {
  const { t } = useI18n();
  const label = t(`status.${status}` as MessageKey);
  const icon = status === "queued" ? <ClockIcon width={14} height={14} />
    : status === "sent" ? <CheckIcon width={14} height={14} />
    : status === "delivered" || status === "read" ? <DoubleCheckIcon width={16} height={16} />
    : status === "failed" ? <AlertIcon width={14} height={14} /> : null;
  if (!icon) return null;
  return <span className={`status status-${status}`} role="img" aria-label={label} title={label}>{icon}</span>;
}

function formatSize(bytes: number | null | undefined): string {
  if (!bytes) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function AttachmentView({ attachment: a }: { attachment: Attachment }) {
  const { t } = useI18n();
  // A file still at the provider has no url until the media worker copies it.
  const url = a.url ?? undefined;
  const name = a.filename || url?.split("/").pop() || t("chat.document");
  switch (a.type) {
    case "image":
      return (
        <a href={url} target="_blank" rel="noopener noreferrer" className="att-image">
          <img src={url} alt={name} loading="lazy" />
        </a>
      );
    case "video":
      return <video className="att-video" src={url} controls preload="metadata" aria-label={name} />;
    case "audio":
      return <audio className="att-audio" src={url} controls preload="metadata" aria-label={name} />;
    default:
      return (
        <a href={url} download={name} className="att-doc" aria-label={t("chat.download", { name })}>
          <FileIcon width={22} height={22} />
          <span className="att-doc-name">{name}<small>{formatSize(a.size)}</small></span>
          <DownloadIcon />
        </a>
      );
  }
}
