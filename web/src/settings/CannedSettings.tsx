// Canned responses: the texts the composer offers after `/` (owners and admins manage them).
import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, keys } from "../api/endpoints";
import type { CannedResponse } from "../api/types";
import { useI18n } from "../lib/context";
import { errorText, fieldErrors, formErrorText } from "../lib/errors";
import { ConfirmButton, ErrorNote, Field } from "./form";

const FIELDS = ["shortcut", "title", "content"] as const;

export function CannedSettings() {
  const { t } = useI18n();
  const list = useQuery({ queryKey: keys.canned, queryFn: api.cannedResponses });
  return (
    <div className="settings-stack">
      <section className="settings-card" aria-labelledby="canned-title">
        <h2 id="canned-title">{t("canned.title")}</h2>
        <p className="muted small">{t("canned.intro")}</p>
        <CannedForm />
      </section>
      <section className="settings-card" aria-label={t("canned.title")}>
        {list.isError && <ErrorNote text={errorText(list.error, t)} />}
        {list.data?.length === 0 && <p className="muted">{t("canned.empty")}</p>}
        <ul className="rows">
          {list.data?.map((c) => <CannedRow key={c.id} canned={c} />)}
        </ul>
      </section>
    </div>
  );
}

/** A new canned response, or the edit of one. */
function CannedForm({ editing, onDone }: { editing?: CannedResponse; onDone?: () => void }) {
  const { t } = useI18n();
  const client = useQueryClient();
  const [shortcut, setShortcut] = useState(editing?.shortcut ?? "");
  const [title, setTitle] = useState(editing?.title ?? "");
  const [content, setContent] = useState(editing?.content ?? "");
  const save = useMutation({
    mutationFn: () => {
      const body = { shortcut: shortcut.trim(), title: title.trim(), content: content.trim() };
      return editing ? api.updateCanned(editing.id, body) : api.createCanned(body);
    },
    onSuccess: async () => {
      if (!editing) {
        setShortcut("");
        setTitle("");
        setContent("");
      }
      await client.invalidateQueries({ queryKey: keys.canned });
      onDone?.();
    },
  });
  const errors = fieldErrors(save.error, t);
  function submit(e: FormEvent) {
    e.preventDefault();
    save.mutate();
  }
  return (
    <form className="canned-form" onSubmit={submit} noValidate
      aria-label={editing ? t("canned.edit", { shortcut: editing.shortcut }) : t("canned.add")}>
      <div className="canned-form-row">
        <Field label={t("canned.shortcut")} hint={t("canned.shortcutHint")} error={errors.shortcut}>
          <input value={shortcut} onChange={(e) => setShortcut(e.target.value)} maxLength={32} placeholder="envio"
            autoCapitalize="off" spellCheck={false} />
        </Field>
        <Field label={t("canned.titleField")} error={errors.title}>
          <input value={title} onChange={(e) => setTitle(e.target.value)} maxLength={100} />
        </Field>
      </div>
      <Field label={t("canned.content")} error={errors.content}>
        <textarea value={content} onChange={(e) => setContent(e.target.value)} rows={3} maxLength={4096} />
      </Field>
      <ErrorNote text={formErrorText(save.error, t, FIELDS)} />
      <div className="form-actions">
        {onDone && <button type="button" className="btn btn-sm" onClick={onDone}>{t("canned.cancel")}</button>}
        <button type="submit" className="btn btn-primary btn-sm"
          disabled={!shortcut.trim() || !title.trim() || !content.trim() || save.isPending}>
          {editing ? t("canned.save") : t("canned.add")}
        </button>
      </div>
    </form>
  );
}

function CannedRow({ canned }: { canned: CannedResponse }) {
  const { t } = useI18n();
  const client = useQueryClient();
  const [editing, setEditing] = useState(false);
  const remove = useMutation({
    mutationFn: () => api.deleteCanned(canned.id),
    onSuccess: () => client.invalidateQueries({ queryKey: keys.canned }),
  });
  if (editing) {
    return <li className="row-item"><CannedForm editing={canned} onDone={() => setEditing(false)} /></li>;
  }
  return (
    <li className="row-item" aria-label={`/${canned.shortcut}`}>
      <div className="row-line">
        <div className="row-main">
          <strong><code>/{canned.shortcut}</code> · {canned.title}</strong>
          <span className="muted small row-sub canned-content">{canned.content}</span>
        </div>
        <button type="button" className="btn btn-sm" onClick={() => setEditing(true)}
          aria-label={t("canned.edit", { shortcut: canned.shortcut })}>{t("canned.edit", { shortcut: "" }).trim()}</button>
        <ConfirmButton label={t("canned.delete", { shortcut: canned.shortcut })}
          title={t("canned.delete", { shortcut: canned.shortcut })}
          message={t("canned.confirmDelete", { shortcut: canned.shortcut })}
          confirmLabel={t("canned.delete", { shortcut: "" }).trim()} onConfirm={() => remove.mutate()}
          className="btn btn-sm btn-quiet-danger">{t("canned.delete", { shortcut: "" }).trim()}</ConfirmButton>
      </div>
      <ErrorNote text={remove.error ? errorText(remove.error, t) : null} />
    </li>
  );
}
