import { useId, useMemo, useState } from "react";
import { useMutation, useQuery } from "@tanstack/react-query";
import { api, keys } from "../api/endpoints";
import type { Template, TemplateSendResult } from "../api/types";
import { dictionaries, type MessageKey } from "../i18n";
import { useI18n } from "../lib/context";
import { errorText } from "../lib/errors";
import {
  emptyValues, exampleOf, MEDIA_HEADERS, missingOf, parametersOf, previewOf, searchTemplates, sendRequestOf,
  type TemplateValues,
} from "../lib/templates";
import { Dialog } from "./common";
import { BackIcon, SearchIcon, SendIcon } from "./icons";

/** The WhatsApp template picker: search the channel's approved templates, fill in the parameters
 * while a preview shows what the customer will receive, send (`POST /admin/templates/send`). */
export function TemplatePicker({ conversationId, channelId, notice, onClose, onSent }: {
  conversationId: string; channelId: string; notice?: string; onClose: () => void;
  onSent: (result: TemplateSendResult) => void;
}) {
  const { t } = useI18n();
  const [q, setQ] = useState("");
  const [chosen, setChosen] = useState<Template | null>(null);
  const templates = useQuery({ queryKey: keys.templates(channelId), queryFn: () => api.templates(channelId) });
  const found = useMemo(() => searchTemplates((templates.data ?? []).filter((x) => !x.removed_at), q),
    [templates.data, q]);
  return (
    <Dialog title={t("templates.title")} onClose={onClose} wide>
      <div className="template-picker">
        {notice && <p className="picker-notice" role="alert">{notice}</p>}
        {chosen ? (
          <TemplateForm template={chosen} conversationId={conversationId} onBack={() => setChosen(null)} onSent={onSent} />
        ) : (
          <>
            <label className="search picker-search">
              <span className="sr-only">{t("templates.search")}</span>
              <SearchIcon className="search-icon" />
              <input type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder={t("templates.search")}
                autoFocus />
            </label>
            {templates.isPending && <p className="list-note" role="status">{t("templates.loading")}</p>}
            {templates.isError && (
              <p className="form-error" role="alert">{t("templates.error", { message: errorText(templates.error, t) })}</p>
            )}
            {templates.data && templates.data.length === 0 && <p className="list-note">{t("templates.none")}</p>}
            {templates.data && templates.data.length > 0 && found.length === 0 && (
              <p className="list-note">{t("templates.noMatch")}</p>
            )}
            {found.length > 0 && (
              <ul className="template-list" aria-label={t("templates.list")}>
                {found.map((item) => (
                  <li key={item.id}>
                    <button type="button" className="template-item" onClick={() => setChosen(item)}>
                      <span className="template-item-head">
                        <strong>{item.name}</strong>
                        <span className="template-tag">{item.language}</span>
                        <span className="template-tag">{category(item.category, t)}</span>
                      </span>
                      <span className="template-item-body">{previewOf(item, emptyValues()).body}</span>
                    </button>
                  </li>
                ))}
              </ul>
            )}
          </>
        )}
      </div>
    </Dialog>
  );
}

function category(value: string, t: (key: MessageKey) => string): string {
  const key = `templates.category.${value}`;
  return Object.hasOwn(dictionaries.es, key) ? t(key as MessageKey) : value;
}

function TemplateForm({ template, conversationId, onBack, onSent }: {
  template: Template; conversationId: string; onBack: () => void; onSent: (result: TemplateSendResult) => void;
}) {
  const { t } = useI18n();
  const id = useId();
  const [values, setValues] = useState<TemplateValues>(emptyValues);
  const [tried, setTried] = useState(false);
  const shape = parametersOf(template);
  const preview = previewOf(template, values);
  const missing = missingOf(template, values);
  const send = useMutation({
    mutationFn: () => api.sendTemplate(sendRequestOf(template, conversationId, values)),
    onSuccess: onSent,
  });
  const mediaHeader = shape.header && (MEDIA_HEADERS as readonly string[]).includes(shape.header) ? shape.header : null;
  const inputs: { key: string; label: string; value: string; example?: string; set: (v: string) => void }[] = [
    ...shape.header_text_parameters.map((name) => ({
      key: `header.${name}`, label: t("templates.headerParameter", { name }), value: values.header[name] ?? "",
      example: exampleOf(template, "header", name),
      set: (v: string) => setValues((old) => ({ ...old, header: { ...old.header, [name]: v } })),
    })),
    ...(mediaHeader ? [{
      key: "header.url", label: t("templates.headerFile", { kind: t(`templates.mediaHeader.${mediaHeader}` as MessageKey) }),
      value: values.headerUrl, set: (v: string) => setValues((old) => ({ ...old, headerUrl: v })),
    }] : []),
    ...shape.body.map((name) => ({
      key: `body.${name}`, label: t("templates.parameter", { name }), value: values.body[name] ?? "",
      example: exampleOf(template, "body", name),
      set: (v: string) => setValues((old) => ({ ...old, body: { ...old.body, [name]: v } })),
    })),
    ...shape.buttons.filter((b) => b.parameter === "text" || b.parameter === "coupon_code").map((b) => ({
      key: `buttons.${b.index}`, label: t("templates.buttonParameter", { text: b.text }),
      value: values.buttons[b.index] ?? "",
      set: (v: string) => setValues((old) => ({ ...old, buttons: { ...old.buttons, [b.index]: v } })),
    })),
  ];

  function submit() {
    setTried(true);
    if (missing.length === 0 && !send.isPending) send.mutate();
  }

  return (
    <form className="template-form" onSubmit={(e) => { e.preventDefault(); submit(); }}>
      <div className="template-form-head">
        <button type="button" className="icon-btn" onClick={onBack} aria-label={t("templates.back")} title={t("templates.back")}>
          <BackIcon />
        </button>
        <h3>{template.name}</h3>
        <span className="template-tag">{template.language}</span>
        <span className="template-tag">{category(template.category, t)}</span>
      </div>
      <div className="template-form-grid">
        <fieldset className="template-inputs">
          <legend>{t("templates.parameters")}</legend>
          {inputs.length === 0 && <p className="muted">{t("templates.noParameters")}</p>}
          {inputs.map((input, n) => {
            const empty = tried && missing.includes(input.key);
            return (
              <label key={input.key} className="field">
                <span>{input.label}</span>
                <input value={input.value} onChange={(e) => input.set(e.target.value)} placeholder={input.example}
                  aria-invalid={empty || undefined} maxLength={1024} autoFocus={n === 0} id={`${id}-${input.key}`} />
              </label>
            );
          })}
        </fieldset>
        <section className="template-preview" aria-label={t("templates.preview")}>
          <h4 className="muted small">{t("templates.preview")}</h4>
          <div className="bubble bubble-human preview-bubble">
            {preview.header && ("text" in preview.header
              ? <p className="preview-header">{preview.header.text}</p>
              : <p className="preview-media">{t(`templates.mediaHeader.${preview.header.media}` as MessageKey)}</p>)}
            <p className="bubble-text">{preview.body}</p>
            {preview.footer && <p className="preview-footer">{preview.footer}</p>}
            {preview.buttons.length > 0 && (
              <ul className="template-buttons">{preview.buttons.map((b, i) => <li key={i}>{b}</li>)}</ul>
            )}
          </div>
        </section>
      </div>
      {tried && missing.length > 0 && <p className="form-error" role="alert">{t("templates.missing")}</p>}
      {send.isError && (
        <p className="form-error" role="alert">{t("templates.sendFailed", { message: errorText(send.error, t) })}</p>
      )}
      <div className="form-actions">
        <button type="submit" className="btn btn-primary template-send" disabled={send.isPending}>
          <SendIcon width={14} height={14} /> {send.isPending ? t("templates.sending") : t("templates.send")}
        </button>
      </div>
    </form>
  );
}
