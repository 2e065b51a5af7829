// The WhatsApp templates synced from the providers: a sync button per WhatsApp channel, the list
// (name, language, status, category) and a preview of the chosen one with its placeholders.
import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, keys } from "../api/endpoints";
import type { Channel, Template, TemplateSync } from "../api/types";
import { RefreshIcon } from "../components/icons";
import { dictionaries, type MessageKey, type Translate } from "../i18n";
import { useI18n } from "../lib/context";
import { errorText } from "../lib/errors";
import { emptyValues, parametersOf, previewOf } from "../lib/templates";
import { ErrorNote } from "./form";

function label(prefix: string, value: string, t: Translate): string {
  const key = `${prefix}.${value}`;
  return Object.hasOwn(dictionaries.es, key) ? t(key as MessageKey) : value;
}

export function TemplatesSettings() {
  const { t } = useI18n();
  const channels = useQuery({ queryKey: keys.channels, queryFn: api.channels });
  const templates = useQuery({ queryKey: keys.allTemplates, queryFn: () => api.allTemplates() });
  const [chosen, setChosen] = useState<string | null>(null);
  const whatsapp = (channels.data ?? []).filter((c) => c.channel_source === "whatsapp");
  const names = new Map((channels.data ?? []).map((c) => [c.id, c.name]));
  const list = templates.data ?? [];
  const selected = list.find((tpl) => tpl.id === chosen) ?? null;
  return (
    <div className="settings-stack">
      <section className="settings-card" aria-labelledby="tplset-title">
        <h2 id="tplset-title">{t("tplset.title")}</h2>
        <p className="muted small">{t("tplset.hint")}</p>
        {channels.isSuccess && whatsapp.length === 0 && <p className="muted">{t("tplset.noChannels")}</p>}
        <div className="sync-row">
          {whatsapp.map((c) => <SyncButton key={c.id} channel={c} />)}
        </div>
      </section>
      <div className="templates-screen">
        <section className="settings-card" aria-labelledby="tplset-list">
          <h2 id="tplset-list">{t("tplset.list")}</h2>
          {templates.isPending && <p role="status">{t("common.loading")}</p>}
          {templates.isError && <ErrorNote text={errorText(templates.error, t)} />}
          {templates.isSuccess && list.length === 0 && <p className="muted">{t("tplset.none")}</p>}
          <ul className="rows template-rows" aria-label={t("tplset.list")}>
            {list.map((tpl) => (
              <li key={tpl.id}>
                <button type="button" className={`template-row${tpl.id === chosen ? " is-active" : ""}`}
                  aria-pressed={tpl.id === chosen} onClick={() => setChosen(tpl.id)}>
                  <span className="template-row-name">{tpl.name}</span>
                  <span className={`status-chip is-${tpl.status.toLowerCase()}`}>{label("tplset.status", tpl.status, t)}</span>
                  <span className="muted small template-row-meta">
                    {tpl.language} · {label("templates.category", tpl.category, t)}
                    {whatsapp.length > 1 && ` · ${names.get(tpl.channel_id) ?? ""}`}
                  </span>
                </button>
              </li>
            ))}
          </ul>
        </section>
        <section className="settings-card template-preview-card" aria-label={selected
          ? t("tplset.preview", { name: selected.name }) : t("templates.preview")}>
          {selected ? <TemplatePreview template={selected} /> : <p className="muted">{t("tplset.choose")}</p>}
        </section>
      </div>
    </div>
  );
}

function SyncButton({ channel }: { channel: Channel }) {
  const { t } = useI18n();
  const client = useQueryClient();
  const sync = useMutation({
    mutationFn: () => api.syncTemplates(channel.id),
    onSuccess: () => client.invalidateQueries({ queryKey: ["templates"] }),
  });
  return (
    <div className="sync-item">
      <button type="button" className="btn btn-sm" onClick={() => sync.mutate()} disabled={sync.isPending}>
        <RefreshIcon /> {sync.isPending ? t("tplset.syncing") : t("tplset.sync", { name: channel.name })}
      </button>
      {sync.data && <SyncNote result={sync.data} />}
      <ErrorNote text={sync.error ? errorText(sync.error, t) : null} />
    </div>
  );
}

function SyncNote({ result }: { result: TemplateSync }) {
  const { t } = useI18n();
  return (
    <>
      {result.channels.map((c) => c.ok
        ? <p key={c.channel_id} className="muted small" role="status">{t("tplset.synced", { name: c.name, n: c.synced })}</p>
        : <p key={c.channel_id} className="form-error" role="alert">{t("tplset.syncFailed", { name: c.name, reason: c.error ?? "" })}</p>)}
    </>
  );
}

/** A text with its placeholders ({{1}}, {{nombre}}) marked. */
function Marked({ text }: { text: string }) {
  const parts = text.split(/(\{\{\s*[A-Za-z0-9_]+\s*\}\})/g);
  return <>{parts.map((part, i) => (i % 2 ? <mark key={i} className="placeholder">{part}</mark> : part))}</>;
}

function TemplatePreview({ template }: { template: Template }) {
  const { t } = useI18n();
  const preview = previewOf(template, emptyValues());
  const params = parametersOf(template);
  const placeholders = [...params.header_text_parameters, ...params.body].map((p) => `{{${p}}}`);
  return (
    <>
      <h2>{template.name}</h2>
      <p className="muted small">
        {template.language} · {label("templates.category", template.category, t)} · {label("tplset.status", template.status, t)}
      </p>
      {template.removed_at && <p className="form-error">{t("tplset.removed")}</p>}
      {template.status === "REJECTED" && template.rejected_reason && (
        <p className="form-error">{t("tplset.rejected", { reason: template.rejected_reason })}</p>
      )}
      <div className="template-preview-chat">
        <div className="bubble bubble-human preview-bubble">
          {preview.header && ("text" in preview.header
            ? <p className="preview-header"><Marked text={preview.header.text} /></p>
            : <p className="preview-media">{t(`templates.mediaHeader.${preview.header.media}` as MessageKey)}</p>)}
          <p className="bubble-text"><Marked text={preview.body} /></p>
          {preview.footer && <p className="preview-footer">{preview.footer}</p>}
          {preview.buttons.length > 0 && (
            <ul className="template-buttons">{preview.buttons.map((b, i) => <li key={i}>{b}</li>)}</ul>
          )}
        </div>
      </div>
      <p className="small">{placeholders.length
        ? t("tplset.placeholders", { names: placeholders.join(", ") }) : t("tplset.noPlaceholders")}</p>
    </>
  );
}
