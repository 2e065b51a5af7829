import { useRef, useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useParams } from "@tanstack/react-router";
import { api, keys } from "../api/endpoints";
import type { KnowledgeEntry } from "../api/types";
import { SearchIcon, TrashIcon, UploadIcon } from "../components/icons";
import { useI18n } from "../lib/context";
import { errorText, fieldErrors, formErrorText } from "../lib/errors";
import { ConfirmButton, ErrorNote, Field } from "./form";

const ACCEPT = ".txt,.md,.markdown,.pdf,.docx,text/plain,text/markdown,application/pdf," +
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

export function KnowledgeSettings() {
  const { t } = useI18n();
  const { slug } = useParams({ from: "/panel_cliente/$slug" });
  const assistants = useQuery({ queryKey: keys.assistants, queryFn: api.assistants });
  const [selected, setSelected] = useState<string | null>(null);
  const list = assistants.data ?? [];
  const current = list.find((a) => a.id === selected) ?? list[0];
  if (assistants.isPending) return <p role="status">{t("common.loading")}</p>;
  if (assistants.isError) return <ErrorNote text={errorText(assistants.error, t)} />;
  if (!current) {
    return (
      <section className="settings-card">
        <h2>{t("knowledge.title")}</h2>
        <p className="muted">
          <Link to="/panel_cliente/$slug/settings/assistant" params={{ slug }}>{t("knowledge.needAssistant")}</Link>
        </p>
      </section>
    );
  }
  return (
    <div className="settings-stack">
      <section className="settings-card" aria-labelledby="knowledge-title">
        <div className="settings-head">
          <h2 id="knowledge-title">{t("knowledge.title")}</h2>
          {list.length > 1 && (
            <select aria-label={t("assistant.pick")} value={current.id} onChange={(e) => setSelected(e.target.value)}>
              {list.map((a) => <option key={a.id} value={a.id}>{a.name}</option>)}
            </select>
          )}
        </div>
        <p className="muted small">{t("knowledge.hint")}</p>
        <SearchPreview key={`search-${current.id}`} assistantId={current.id} />
      </section>
      <Entries key={current.id} assistantId={current.id} />
    </div>
  );
}

function SearchPreview({ assistantId }: { assistantId: string }) {
  const { t } = useI18n();
  const [q, setQ] = useState("");
  const search = useMutation({ mutationFn: (question: string) => api.searchKnowledge(assistantId, question) });
  return (
    <div className="search-preview" role="search">
      <h3>{t("knowledge.search")}</h3>
      <p className="muted small">{t("knowledge.searchHint")}</p>
      <form className="search-row" onSubmit={(e) => { e.preventDefault(); if (q.trim()) search.mutate(q.trim()); }}>
        <input aria-label={t("knowledge.searchLabel")} placeholder={t("knowledge.searchPlaceholder")} value={q}
          maxLength={500} onChange={(e) => setQ(e.target.value)} />
        <button type="submit" className="btn btn-sm" disabled={!q.trim() || search.isPending}>
          <SearchIcon /> {t("knowledge.searchButton")}
        </button>
      </form>
      <ErrorNote text={search.error ? errorText(search.error, t) : null} />
      {search.data && (search.data.length === 0 ? <p className="muted" role="status">{t("knowledge.noHits")}</p> : (
        <ol className="hits" aria-label={t("knowledge.hits")}>
          {search.data.map((hit) => (
            <li key={hit.chunk_id}>
              <strong>{hit.title}</strong>
              <p className="trace-excerpt">{hit.content}</p>
            </li>
          ))}
        </ol>
      ))}
    </div>
  );
}

function Entries({ assistantId }: { assistantId: string }) {
  const { t } = useI18n();
  const client = useQueryClient();
  const entries = useQuery({ queryKey: keys.knowledge(assistantId), queryFn: () => api.knowledge(assistantId) });
  const refresh = () => Promise.all([
    client.invalidateQueries({ queryKey: keys.knowledge(assistantId) }),
    client.invalidateQueries({ queryKey: keys.assistants }),
  ]);
  const fileInput = useRef<HTMLInputElement>(null);
  const upload = useMutation({
    mutationFn: (file: File) => api.uploadKnowledge(assistantId, file),
    onSuccess: refresh,
    onSettled: () => { if (fileInput.current) fileInput.current.value = ""; },
  });
  return (
    <>
      <section className="settings-card" aria-labelledby="entries-title">
        <h2 id="entries-title">{t("knowledge.entries")}</h2>
        {entries.isError && <ErrorNote text={errorText(entries.error, t)} />}
        {entries.data?.length === 0 && <p className="muted">{t("knowledge.none")}</p>}
        <ul className="rows">
          {entries.data?.map((entry) => <EntryRow key={entry.id} assistantId={assistantId} entry={entry} onChange={refresh} />)}
        </ul>
      </section>
      <section className="settings-card" aria-labelledby="upload-title">
        <h2 id="upload-title">{t("knowledge.upload")}</h2>
        <p className="muted small">{t("knowledge.uploadHint")}</p>
        <label className="btn btn-sm upload-btn">
          <UploadIcon /> {upload.isPending ? t("knowledge.uploading") : t("knowledge.upload")}
          <input ref={fileInput} type="file" accept={ACCEPT} className="sr-only" disabled={upload.isPending}
            onChange={(e) => { const file = e.target.files?.[0]; if (file) upload.mutate(file); }} />
        </label>
        {upload.isSuccess && <p className="saved" role="status">{t("knowledge.uploaded", { title: upload.data.title })}</p>}
        <ErrorNote text={upload.error ? errorText(upload.error, t) : null} />
      </section>
      <section className="settings-card" aria-labelledby="new-entry-title">
        <h2 id="new-entry-title">{t("knowledge.add")}</h2>
        <EntryForm assistantId={assistantId} onSaved={refresh} />
      </section>
    </>
  );
}

function EntryForm({ assistantId, entry, onSaved, onCancel }: {
  assistantId: string; entry?: KnowledgeEntry; onSaved: () => unknown; onCancel?: () => void;
}) {
  const { t } = useI18n();
  const [title, setTitle] = useState(entry?.title ?? "");
  const [content, setContent] = useState(entry?.content ?? "");
  const save = useMutation({
    mutationFn: () => entry
      ? api.updateKnowledge(assistantId, entry.id, { title: title.trim(), content })
      : api.addKnowledge(assistantId, { title: title.trim(), content }),
    onSuccess: async () => {
      if (!entry) {
        setTitle("");
        setContent("");
      }
      await onSaved();
      onCancel?.();
    },
  });
  const errors = fieldErrors(save.error, t);
  function submit(e: FormEvent) {
    e.preventDefault();
    if (title.trim() && content.trim()) save.mutate();
  }
  return (
    <form className="inline-form" onSubmit={submit} noValidate
      aria-label={entry ? t("knowledge.edit", { title: entry.title }) : t("knowledge.add")}>
      <Field label={t("knowledge.entryTitle")} error={errors.title}>
        <input value={title} onChange={(e) => setTitle(e.target.value)} maxLength={300} />
      </Field>
      <Field label={t("knowledge.content")} error={errors.content}>
        <textarea rows={entry ? 8 : 5} value={content} onChange={(e) => setContent(e.target.value)} />
      </Field>
      <ErrorNote text={formErrorText(save.error, t, ["title", "content"])} />
      <div className="form-actions">
        {onCancel && <button type="button" className="btn btn-sm" onClick={onCancel}>{t("common.cancel")}</button>}
        <button type="submit" className="btn btn-primary btn-sm" disabled={!title.trim() || !content.trim() || save.isPending}>
          {entry ? t("knowledge.update") : t("knowledge.create")}
        </button>
      </div>
    </form>
  );
}

function EntryRow({ assistantId, entry, onChange }: {
  assistantId: string; entry: KnowledgeEntry; onChange: () => unknown;
}) {
  const { t } = useI18n();
  const [editing, setEditing] = useState(false);
  const remove = useMutation({ mutationFn: () => api.deleteKnowledge(assistantId, entry.id), onSuccess: onChange });
  if (editing) {
    return (
      <li className="row-item">
        <EntryForm assistantId={assistantId} entry={entry} onSaved={onChange} onCancel={() => setEditing(false)} />
      </li>
    );
  }
  return (
    <li className="row-item">
      <div className="row-line">
        <div className="row-main">
          <strong>{entry.title}</strong>
          <span className="muted small row-sub">
            {entry.source_filename ? `${t("knowledge.fromFile", { file: entry.source_filename })} · ` : ""}
            {entry.content.length > 160 ? `${entry.content.slice(0, 160).trimEnd()}…` : entry.content}
          </span>
        </div>
        <button type="button" className="btn btn-sm" aria-label={t("knowledge.edit", { title: entry.title })}
          onClick={() => setEditing(true)}>
          {t("common.edit")}
        </button>
        <ConfirmButton label={t("knowledge.delete", { title: entry.title })} title={t("knowledge.delete", { title: entry.title })}
          message={t("knowledge.confirmDelete", { title: entry.title })} confirmLabel={t("common.delete")}
          onConfirm={() => remove.mutate()} className="icon-btn danger">
          <TrashIcon />
        </ConfirmButton>
      </div>
      <ErrorNote text={remove.error ? errorText(remove.error, t) : null} />
    </li>
  );
}
