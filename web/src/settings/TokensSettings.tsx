import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, keys } from "../api/endpoints";
import type { ApiToken, ApiTokenCreated } from "../api/types";
import { useI18n } from "../lib/context";
import { formatRelative } from "../lib/dates";
import { errorText, fieldErrors, formErrorText } from "../lib/errors";
import { ConfirmButton, CopyField, ErrorNote, Field } from "./form";

export function TokensSettings() {
  const { t } = useI18n();
  const client = useQueryClient();
  const tokens = useQuery({ queryKey: keys.tokens, queryFn: api.tokens });
  const [name, setName] = useState("");
  const [created, setCreated] = useState<ApiTokenCreated | null>(null);
  const create = useMutation({
    mutationFn: () => api.createToken(name.trim()),
    onSuccess: async (token) => {
      setCreated(token);
      setName("");
      await client.invalidateQueries({ queryKey: keys.tokens });
    },
  });
  const errors = fieldErrors(create.error, t);
  function submit(e: FormEvent) {
    e.preventDefault();
    if (name.trim()) create.mutate();
  }
  return (
    <div className="settings-stack">
      <section className="settings-card" aria-labelledby="tokens-title">
        <h2 id="tokens-title">{t("tokens.title")}</h2>
        <p className="muted small">{t("tokens.hint")}</p>
        <form className="search-row" onSubmit={submit} noValidate aria-label={t("tokens.create")}>
          <Field label={t("tokens.name")} error={errors.name}>
            <input value={name} onChange={(e) => setName(e.target.value)} maxLength={200} placeholder={t("tokens.namePlaceholder")} />
          </Field>
          <button type="submit" className="btn btn-primary btn-sm" disabled={!name.trim() || create.isPending}>
            {t("tokens.create")}
          </button>
        </form>
        <ErrorNote text={formErrorText(create.error, t, ["name"])} />
        {created && <NewToken token={created} onDone={() => setCreated(null)} />}
      </section>
      <section className="settings-card" aria-label={t("tokens.title")}>
        {tokens.isError && <ErrorNote text={errorText(tokens.error, t)} />}
        {tokens.data?.length === 0 && <p className="muted">{t("tokens.none")}</p>}
        <ul className="rows">
          {tokens.data?.map((token) => <TokenRow key={token.id} token={token} />)}
        </ul>
      </section>
    </div>
  );
}

function NewToken({ token, onDone }: { token: ApiTokenCreated; onDone: () => void }) {
  const { t } = useI18n();
  return (
    <div className="new-token" role="status">
      <p><strong>{t("tokens.once")}</strong></p>
      <CopyField label={t("tokens.value")} value={token.token} />
      <button type="button" className="link small" onClick={onDone}>{t("tokens.dismiss")}</button>
    </div>
  );
}

function TokenRow({ token }: { token: ApiToken }) {
  const { t, lang } = useI18n();
  const client = useQueryClient();
  const revoke = useMutation({
    mutationFn: () => api.revokeToken(token.id),
    onSuccess: () => client.invalidateQueries({ queryKey: keys.tokens }),
  });
  const revoked = !!token.revoked_at;
  return (
    <li className={`row-item${revoked ? " is-revoked" : ""}`} aria-label={token.name}>
      <div className="row-line">
        <div className="row-main">
          <strong>{token.name}</strong>
          <span className="muted small row-sub">
            {t("tokens.details", { prefix: token.prefix, created: formatRelative(token.created_at, lang) })}
            {" · "}
            {revoked ? t("tokens.revoked", { when: formatRelative(token.revoked_at!, lang) })
              : token.last_used_at ? t("tokens.lastUsed", { when: formatRelative(token.last_used_at, lang) })
              : t("tokens.neverUsed")}
          </span>
        </div>
        {!revoked && (
          <ConfirmButton label={t("tokens.revoke", { name: token.name })} title={t("tokens.revoke", { name: token.name })}
            message={t("tokens.confirmRevoke", { name: token.name })} confirmLabel={t("tokens.revoke", { name: token.name })}
            onConfirm={() => revoke.mutate()} className="btn btn-sm btn-quiet-danger" />
        )}
      </div>
      <ErrorNote text={revoke.error ? errorText(revoke.error, t) : null} />
    </li>
  );
}
