import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, keys } from "../api/endpoints";
import type { Tag } from "../api/types";
import { useI18n } from "../lib/context";
import { errorText } from "../lib/errors";
import { applyTag } from "../lib/live";
import { Dialog, TagChip } from "./common";
import { TrashIcon } from "./icons";

const PALETTE = ["#22c55e", "#0ea5e9", "#6366f1", "#a855f7", "#ec4899", "#f97316", "#eab308", "#64748b"];

/** Create, recolour, rename and delete the tenant's tags. */
export function TagManager({ onClose }: { onClose: () => void }) {
  const { t } = useI18n();
  const client = useQueryClient();
  const tags = useQuery({ queryKey: keys.tags, queryFn: api.tags, staleTime: Infinity });
  const [name, setName] = useState("");
  const [color, setColor] = useState(PALETTE[0]);
  const create = useMutation({
    mutationFn: () => api.createTag(name.trim(), color),
    onSuccess: (tag) => {
      applyTag(client, tag, false);
      setName("");
      setColor(PALETTE[(PALETTE.indexOf(color) + 1) % PALETTE.length]);
    },
  });
  function submit(e: FormEvent) {
    e.preventDefault();
    if (name.trim()) create.mutate();
  }
  return (
    <Dialog title={t("tags.manage")} onClose={onClose}>
      <form className="tag-create" onSubmit={submit} aria-label={t("tags.new")}>
        <input type="color" aria-label={t("tags.color")} value={color} onChange={(e) => setColor(e.target.value)} />
        <input aria-label={t("tags.name")} placeholder={t("tags.new")} value={name} maxLength={64}
          onChange={(e) => setName(e.target.value)} aria-invalid={create.isError} />
        <button type="submit" className="btn btn-primary btn-sm" disabled={!name.trim() || create.isPending}>{t("tags.create")}</button>
      </form>
      {create.isError && <p className="form-error" role="alert">{errorText(create.error, t)}</p>}
      <ul className="tag-list" aria-label={t("tags.title")}>
        {tags.data?.map((tag) => <TagEditor key={tag.id} tag={tag} />)}
      </ul>
    </Dialog>
  );
}

function TagEditor({ tag }: { tag: Tag }) {
  const { t } = useI18n();
  const client = useQueryClient();
  const [name, setName] = useState(tag.name);
  const [confirming, setConfirming] = useState(false);
  const update = useMutation({
    mutationFn: (body: Partial<Pick<Tag, "name" | "color">>) => api.updateTag(tag.id, body),
    onSuccess: (next) => applyTag(client, next, false),
  });
  const remove = useMutation({
    mutationFn: () => api.deleteTag(tag.id),
    onSuccess: () => {
      applyTag(client, tag, true);
      // Lists filtered by this tag are now empty: reload them.
      client.invalidateQueries({ queryKey: keys.chatsRoot });
    },
  });
  function rename(e?: FormEvent) {
    e?.preventDefault();
    if (name.trim() && name.trim() !== tag.name) update.mutate({ name: name.trim() });
  }
  return (
    <li className="tag-row">
      {confirming ? (
        <div className="tag-confirm" role="group" aria-label={t("tags.delete", { name: tag.name })}>
          <span>{t("tags.confirmDelete", { name: tag.name })}</span>
          <button type="button" className="btn btn-danger btn-sm" onClick={() => remove.mutate()} disabled={remove.isPending}>
            {t("tags.delete", { name: tag.name })}
          </button>
          <button type="button" className="btn btn-sm" onClick={() => setConfirming(false)}>{t("common.cancel")}</button>
        </div>
      ) : (
        <form className="tag-edit" onSubmit={rename}>
          <input type="color" aria-label={t("tags.colorOf", { name: tag.name })} value={tag.color}
            onChange={(e) => update.mutate({ color: e.target.value })} />
          <input aria-label={t("tags.rename", { name: tag.name })} value={name} maxLength={64}
            onChange={(e) => setName(e.target.value)} onBlur={() => rename()} />
          <TagChip tag={{ ...tag, name: name || tag.name }} />
          <button type="submit" className="sr-only">{t("tags.saveName")}</button>
          <button type="button" className="icon-btn danger" aria-label={t("tags.delete", { name: tag.name })}
            title={t("tags.delete", { name: tag.name })} onClick={() => setConfirming(true)}>
            <TrashIcon />
          </button>
        </form>
      )}
      {(update.isError || remove.isError) && <p className="form-error" role="alert">{errorText(update.error ?? remove.error, t)}</p>}
    </li>
  );
}
