import { memo, type ReactNode } from "react";
import type { Attachment, Message } from "../api/types";
import { dictionaries, type MessageKey, type Translate } from "../i18n";
import { useI18n } from "../lib/context";
import { formatTime } from "../lib/dates";
import {
  bodyView, deliveryMark, fileErrorKey, fileLabel, fileState, isForwarded, originalText, quoteText, reactionsOf,
  referralOf, shownText, templateOf, type BodyView, type DeliveryMark,
} from "../lib/messageView";
import {
  AlertIcon, CheckIcon, ClockIcon, DoubleCheckIcon, DownloadIcon, FileIcon, LockIcon, RefreshIcon, SparkIcon,
} from "./icons";
import { deliveryText } from "../lib/deliveryText";

/** A quoted message as the chat has it: loaded, being fetched, or not to be had. */
export type QuotedState = { state: "found"; message: Message } | { state: "loading" } | { state: "missing" };

export interface BubbleProps {
  message: Message;
  onWhy: (cid: string) => void;
  assistantName: string;
  /** The customer's name, for a quote of one of their messages. */
  contactName: string;
  quoted?: QuotedState;
  onQuote?: (id: number) => void;
  onRetry?: (id: number) => void;
  retrying?: boolean;
  /** Why the last retry could not be asked for. */
  retryError?: string | null;
}

const known = (key: string) => Object.hasOwn(dictionaries.es, key);

function authorName(m: Message, t: Translate, assistantName: string, contactName: string): string {
  if (m.author === "contact") return contactName || t("chat.customer");
  if (m.author === "ai") return assistantName;
  return m.author_name || t("chat.agent");
}

export const MessageBubble = memo(function MessageBubble(props: BubbleProps) {
  const { message: m, onWhy, assistantName, contactName, quoted, onQuote, onRetry, retrying, retryError } = props;
  const { t, lang } = useI18n();
  const time = <time dateTime={m.timestamp}>{formatTime(m.timestamp, lang)}</time>;
  if (m.author === "system") {
    return (
      <div className="system-note" role="note" aria-label={t("chat.system")} id={`msg-${m.id}`}>
        <span>{m.content}</span> {time}
      </div>
    );
  }
  if (m.kind === "note") return <NoteBubble message={m} time={time} who={authorName(m, t, assistantName, contactName)} />;
  const body = bodyView(m);
  if (body.kind === "unsupported") {
    return (
      <div className="system-note is-unsupported" role="note" aria-label={t("chat.system")} id={`msg-${m.id}`}>
        <span>{body.what ? t("chat.unsupportedWhat", { what: body.what }) : t("chat.unsupported")}</span> {time}
      </div>
    );
  }
  const outbound = m.author !== "contact";
  const who = outbound ? authorName(m, t, assistantName, contactName) : null;
  const deleted = !!m.deleted_at;
  const text = shownText(m, body);
  const mark = deliveryMark(m);
  const reactions = reactionsOf(m);
  const referral = referralOf(m);
  const template = templateOf(m);
  const original = originalText(m);
  const sticker = !text && m.attachments?.length === 1 && !!m.attachments[0].sticker && fileState(m.attachments[0]) === "ready";
  const classes = ["bubble", `bubble-${m.author}`, m.status === "failed" && "is-failed", deleted && "is-deleted",
    sticker && "is-sticker", m.is_echo && "is-echo"].filter(Boolean).join(" ");
  return (
    <div className={`msg-row ${outbound ? "out" : "in"}${reactions.length ? " has-reactions" : ""}`} id={`msg-${m.id}`}>
      <article className={classes} aria-label={who ?? undefined} data-author={m.author} data-kind={m.kind ?? "text"}
        data-status={m.status}>
        {(who || m.is_echo) && (
          <header className="bubble-author">
            {m.author === "ai" && <SparkIcon width={12} height={12} />} {who}
            {m.is_echo && <span className="echo-chip" title={t("chat.echoTitle")}>📱 {t("chat.echo")}</span>}
          </header>
        )}
        {isForwarded(m) && <p className="bubble-meta">↪ {t("chat.forwarded")}</p>}
        {referral && (
          <p className="bubble-meta referral">
            📣 {t("chat.referral")}{referral.headline ? `: ${referral.headline}` : ""}
            {referral.url && <> · <a href={referral.url} target="_blank" rel="noopener noreferrer">{referral.url}</a></>}
          </p>
        )}
        {m.reply_to_id != null && (
          <Quote quoted={quoted} onGo={onQuote ? () => onQuote(m.reply_to_id!) : undefined}
            name={(q) => authorName(q, t, assistantName, contactName)} />
        )}
        {template && <p className="bubble-meta template-name">📋 {t("chat.template", { name: template.name })}</p>}
        {m.attachments?.map((a, i) => <AttachmentView key={`${a.url ?? a.provider_media_id}-${i}`} attachment={a} />)}
        <Body body={body} />
        {text && <p className={`bubble-text${deleted ? " is-struck" : ""}`}>{text}</p>}
        {deleted && <p className="bubble-note" role="note">{t("chat.deletedNote")}</p>}
        {template && template.buttons.length > 0 && (
          <ul className="template-buttons">{template.buttons.map((b, i) => <li key={i}>{b}</li>)}</ul>
        )}
        <footer className="bubble-foot">
          {m.author === "ai" && m.correlation_id && (
            <button type="button" className="why-btn" onClick={() => onWhy(m.correlation_id!)} aria-label={t("chat.whyLabel")}>
              {t("chat.why")}
            </button>
          )}
          {m.edited_at && (
            <span className="edited-mark" title={original ? t("chat.editedFrom", { text: original }) : undefined}>
              {t("chat.edited")}
            </span>
          )}
          {deleted && <span className="deleted-mark">{t("chat.deleted")}</span>}
          {time}
          {mark && <StatusMark mark={mark} />}
        </footer>
        {m.status === "failed" && (
          <div className="bubble-failure" role="alert">
            <p className="bubble-error">{deliveryText(m.error_code, m.error, lang, t)}</p>
            {onRetry && (
              <button type="button" className="btn btn-sm retry-btn" onClick={() => onRetry(m.id)} disabled={retrying}
                aria-label={t("chat.retryLabel")}>
                <RefreshIcon width={14} height={14} className={retrying ? "spin" : undefined} /> {t("chat.retry")}
              </button>
            )}
            {retryError && <p className="bubble-error">{retryError}</p>}
          </div>
        )}
      </article>
      {reactions.length > 0 && (
        <ul className="reactions" aria-label={t("chat.reactions")}>
          {reactions.map((r) => (
            <li key={r.by} title={t(`chat.reactionBy.${r.by}` as MessageKey, { emoji: r.emoji })}
              aria-label={t(`chat.reactionBy.${r.by}` as MessageKey, { emoji: r.emoji })}>{r.emoji}</li>
          ))}
        </ul>
      )}
    </div>
  );
});

/** A private note: the team's, never sent, shown apart from the conversation with the customer. */
function NoteBubble({ message: m, time, who }: { message: Message; time: ReactNode; who: string }) {
  const { t } = useI18n();
  return (
    <div className="msg-row out note-row" id={`msg-${m.id}`}>
      <article className="bubble bubble-note" data-author={m.author} data-kind="note" aria-label={t("note.label")}
        title={t("note.title")}>
        <header className="bubble-author note-author">
          <LockIcon width={12} height={12} aria-hidden="true" /> <span>{t("note.label")}</span> · {who}
        </header>
        <p className="bubble-text">{m.content}</p>
        <footer className="bubble-foot">{time}</footer>
      </article>
    </div>
  );
}

function Quote({ quoted, onGo, name }: {
  quoted: QuotedState | undefined; onGo?: () => void; name: (m: Message) => string;
}) {
  const { t } = useI18n();
  if (!quoted || quoted.state === "loading") {
    return <div className="quote is-loading" role="status">{t("chat.quoteLoading")}</div>;
  }
  if (quoted.state === "missing") return <div className="quote is-missing">{t("chat.quoteMissing")}</div>;
  const q = quoted.message;
  const line = quoteText(q);
  const content = (
    <>
      <strong className={`quote-author quote-${q.author}`}>{name(q)}</strong>
      <span className={`quote-text${q.deleted_at ? " is-struck" : ""}`}>{"text" in line ? line.text : t(line.key)}</span>
    </>
  );
  return onGo ? (
    <button type="button" className="quote" onClick={onGo} title={t("chat.quoteGo")}>{content}</button>
  ) : <div className="quote">{content}</div>;
}

function Body({ body }: { body: BodyView }) {
  const { t } = useI18n();
  switch (body.kind) {
    case "location": {
      const { location } = body;
      return (
        <div className="card-location">
          <span className="card-icon" aria-hidden="true">📍</span>
          <div className="card-text">
            <strong>{location.name ?? t("chat.location")}</strong>
            {location.address && <span>{location.address}</span>}
            <a href={location.mapUrl} target="_blank" rel="noopener noreferrer">{t("chat.openMap")}</a>
          </div>
        </div>
      );
    }
    case "contacts":
      return (
        <ul className="card-contacts" aria-label={t("chat.sharedContacts")}>
          {body.contacts.map((c, i) => (
            <li key={i}>
              <span className="card-icon" aria-hidden="true">👤</span>
              <div className="card-text">
                <strong>{c.name}</strong>
                {c.phones.map((p) => <a key={p} href={`tel:${p.replace(/[^\d+]/g, "")}`} aria-label={t("chat.call", { phone: p })}>{p}</a>)}
                {c.emails.map((e) => <a key={e} href={`mailto:${e}`}>{e}</a>)}
              </div>
            </li>
          ))}
        </ul>
      );
    case "choice":
      return (
        <div className="card-choice">
          <span className="muted small">{t(`chat.choice.${body.choice.how}` as MessageKey)}</span>
          <strong className="choice-title">{body.choice.title}</strong>
          {body.choice.description && <span className="muted small">{body.choice.description}</span>}
        </div>
      );
    default:
      return null;
  }
}

function StatusMark({ mark }: { mark: DeliveryMark }) {
  const { t } = useI18n();
  const label = t(mark.label);
  const icon = mark.icon === "clock" ? <ClockIcon width={14} height={14} />
    : mark.icon === "check" ? <CheckIcon width={14} height={14} />
    : mark.icon === "double" ? <DoubleCheckIcon width={16} height={16} />
    : <AlertIcon width={14} height={14} />;
  return (
    <span className={`status status-${mark.tone}`} role="img" aria-label={label} title={label} data-status-mark={mark.label}>
      {icon}{mark.label === "status.played" && <span className="played" aria-hidden="true">▶</span>}
    </span>
  );
}

function formatSize(bytes: number | null | undefined): string {
  if (!bytes) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function AttachmentView({ attachment: a }: { attachment: Attachment }) {
  const { t } = useI18n();
  const what = t(fileLabel(a));
  const state = fileState(a);
  if (state === "pending") {
    return (
      <div className="att-placeholder" role="status" data-file="pending">
        <ClockIcon width={18} height={18} className="spin-slow" />
        <span>{t("file.pending", { what })}</span>
      </div>
    );
  }
  if (state === "failed") {
    return (
      <div className="att-placeholder is-failed" role="note" data-file="failed">
        <AlertIcon width={18} height={18} />
        <span><strong>{what}</strong> · {t(fileErrorKey(a, known))}</span>
      </div>
    );
  }
  const url = a.url!;
  const name = a.filename || url.split("/").pop() || t("chat.document");
  switch (a.type) {
    case "image":
      return (
        <a href={url} target="_blank" rel="noopener noreferrer" className={a.sticker ? "att-sticker" : "att-image"}>
          <img src={url} alt={a.caption || name} loading="lazy" />
        </a>
      );
    case "video":
      return <video className="att-video" src={url} controls preload="metadata" aria-label={name} />;
    case "audio":
      return (
        <div className={a.voice ? "att-voice" : undefined}>
          {a.voice && <span className="att-voice-label">🎤 {what}</span>}
          <audio className="att-audio" src={url} controls preload="metadata" aria-label={a.voice ? what : name} />
        </div>
      );
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
