// The tenant's channels: each with its health, its linked assistant, on/off, "check connection"
// and removal; and the connect form, one per kind, built from the credentials schema the API
// gives (settings/channelForm.ts). Credentials are write-only: the screen only says which are set.
import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, keys } from "../api/endpoints";
import type { Assistant, Channel, ChannelCheck, ChannelCreated, ChannelKindInfo } from "../api/types";
import { AlertIcon, CheckIcon, TrashIcon } from "../components/icons";
import { dictionaries, type MessageKey, type Translate } from "../i18n";
import { useI18n } from "../lib/context";
import { checkText } from "../lib/checkText";
import { formatRelative } from "../lib/dates";
import { errorText, fieldErrors, formErrorText } from "../lib/errors";
import { ChannelExtra } from "./channelSlots";
import { credentialFields, credentialsToSend, healthLevel, missingFields, type CredentialField } from "./channelForm";
import { ConfirmButton, CopyField, ErrorNote, Field } from "./form";

function known(key: string): key is MessageKey {
  return Object.hasOwn(dictionaries.es, key);
}

/** A kind's name in the chosen language, or the kind itself for one the dictionaries lack. */
export function kindLabel(kind: string, t: Translate): string {
  const key = `channels.kind.${kind}`;
  return known(key) ? t(key) : kind;
}

function fieldLabel(field: CredentialField, t: Translate): string {
  const key = `channels.field.${field.name}`;
  return known(key) ? t(key) : field.title;
}

export function ChannelsSettings() {
  const { t } = useI18n();
  const channels = useQuery({ queryKey: keys.channels, queryFn: api.channels });
  const kinds = useQuery({ queryKey: keys.channelKinds, queryFn: api.channelKinds, staleTime: Infinity });
  const assistants = useQuery({ queryKey: keys.assistants, queryFn: api.assistants });
  return (
    <div className="settings-stack">
      <section className="settings-card" aria-labelledby="channels-title">
        <h2 id="channels-title">{t("channels.title")}</h2>
        <p className="muted small">{t("channels.hint")}</p>
        {channels.isPending && <p role="status">{t("common.loading")}</p>}
        {channels.isError && <ErrorNote text={errorText(channels.error, t)} />}
        {channels.data?.length === 0 && <p className="muted">{t("channels.none")}</p>}
        <ul className="rows" aria-label={t("channels.title")}>
          {channels.data?.map((c) => (
            <ChannelRow key={c.id} channel={c} kind={kinds.data?.find((k) => k.kind === c.kind)}
              assistants={assistants.data ?? []} />
          ))}
        </ul>
      </section>
      <section className="settings-card" aria-labelledby="connect-title">
        <h2 id="connect-title">{t("channels.connect")}</h2>
        {kinds.isError && <ErrorNote text={errorText(kinds.error, t)} />}
        {kinds.data && <ConnectChannel kinds={kinds.data} />}
      </section>
    </div>
  );
}

function ConnectChannel({ kinds }: { kinds: ChannelKindInfo[] }) {
  const { t } = useI18n();
  const client = useQueryClient();
  const [kind, setKind] = useState(kinds[0]?.kind ?? "api");
  const [name, setName] = useState("");
  const [values, setValues] = useState<Record<string, string>>({});
  const [created, setCreated] = useState<ChannelCreated | null>(null);
  const info = kinds.find((k) => k.kind === kind);
  const fields = credentialFields(info?.credentials);
  const create = useMutation({
    mutationFn: () => api.createChannel({ kind, name: name.trim(), credentials: credentialsToSend(fields, values) }),
    onSuccess: async (channel) => {
      setCreated(channel);
      setName("");
      setValues({});
      await client.invalidateQueries({ queryKey: keys.channels });
    },
  });
  const errors = fieldErrors(create.error, t);
  const missing = missingFields(fields, values);
  function submit(e: FormEvent) {
    e.preventDefault();
    if (name.trim() && missing.length === 0) create.mutate();
  }
  return (
    <>
      <form onSubmit={submit} noValidate aria-label={t("channels.connect")}>
        <div className="form-grid">
          <Field label={t("channels.kind")} hint={t(known(`channels.kindHint.${kind}`)
            ? `channels.kindHint.${kind}` as MessageKey : "channels.kindHint.other")}>
            <select value={kind} onChange={(e) => { setKind(e.target.value as typeof kind); setValues({}); create.reset(); }}>
              {kinds.map((k) => <option key={k.kind} value={k.kind}>{kindLabel(k.kind, t)}</option>)}
            </select>
          </Field>
          <Field label={t("channels.name")} error={errors.name}>
            <input value={name} onChange={(e) => setName(e.target.value)} maxLength={200}
              placeholder={t("channels.namePlaceholder")} />
          </Field>
        </div>
        <CredentialInputs fields={fields} values={values} onChange={setValues} errors={errors} />
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={!name.trim() || missing.length > 0 || create.isPending}>
            {create.isPending ? t("channels.connecting") : t("channels.connectSubmit")}
          </button>
        </div>
        <ErrorNote text={formErrorText(create.error, t, ["name", ...fields.map((f) => f.name)])} />
      </form>
      {created && <Connected channel={created} onDone={() => setCreated(null)} />}
    </>
  );
}

/** The credentials' inputs; with `stored`, those already set say so and may stay empty. */
function CredentialInputs({ fields, values, onChange, errors, stored }: {
  fields: CredentialField[]; values: Record<string, string>; onChange: (v: Record<string, string>) => void;
  errors: Record<string, string>; stored?: readonly string[];
}) {
  const { t } = useI18n();
  if (fields.length === 0) return null;
  return (
    <fieldset className="provider-box">
      <legend className="small">{t("channels.credentials")}</legend>
      <div className="form-grid">
        {fields.map((f) => {
          const isSet = stored?.includes(f.name);
          return (
            <Field key={f.name} label={fieldLabel(f, t) + (f.required ? "" : ` (${t("common.optional")})`)}
              error={errors[f.name]} hint={isSet ? t("channels.credentialSet") : undefined}>
              <input type={f.secret ? "password" : "text"} autoComplete="off" spellCheck={false}
                value={values[f.name] ?? ""} placeholder={isSet ? "••••••••" : undefined}
                onChange={(e) => onChange({ ...values, [f.name]: e.target.value })} />
            </Field>
          );
        })}
      </div>
    </fieldset>
  );
}

/** Right after connecting: where the provider's webhooks go, and the token shown only now. */
function Connected({ channel, onDone }: { channel: ChannelCreated; onDone: () => void }) {
  const { t } = useI18n();
  return (
    <div className="new-token" role="status" aria-label={t("channels.connected", { name: channel.name })}>
      <p><strong>{t("channels.connected", { name: channel.name })}</strong></p>
      <WebhookFields channel={channel} />
      {channel.inbound_token && (
        <>
          <p className="small">{t("channels.inboundTokenOnce")}</p>
          <CopyField label={t("channels.inboundToken")} value={channel.inbound_token} />
        </>
      )}
      <button type="button" className="link small" onClick={onDone}>{t("tokens.dismiss")}</button>
    </div>
  );
}

function WebhookFields({ channel }: { channel: Channel }) {
  const { t } = useI18n();
  if (!channel.webhook_url) return null;
  return (
    <div className="copy-fields">
      <p className="small">{t("channels.webhookHint", { kind: kindLabel(channel.kind, t) })}</p>
      <CopyField label={t("channels.webhookUrl")} value={channel.webhook_url} />
      {channel.verify_token && <CopyField label={t("channels.verifyToken")} value={channel.verify_token} />}
    </div>
  );
}

function ChannelRow({ channel, kind, assistants }: { channel: Channel; kind?: ChannelKindInfo; assistants: Assistant[] }) {
  const { t } = useI18n();
  const client = useQueryClient();
  const [open, setOpen] = useState(false);
  const refresh = () => client.invalidateQueries({ queryKey: keys.channels });
  const update = useMutation({
    mutationFn: (body: Parameters<typeof api.updateChannel>[1]) => api.updateChannel(channel.id, body),
    onSuccess: refresh,
  });
  const remove = useMutation({ mutationFn: () => api.deleteChannel(channel.id), onSuccess: refresh });
  const level = healthLevel(channel);
  return (
    <li className={`row-item channel-row is-${level}`} aria-label={channel.name}>
      <div className="row-line">
        <div className="row-main">
          <strong>{channel.name}</strong>
          <span className="muted small row-sub">
            {kindLabel(channel.kind, t)}
            {channel.credentials_set.length > 0 && ` · ${t("channels.credentialsSet", {
              names: channel.credentials_set.join(", ") })}`}
          </span>
        </div>
        <label className="check channel-toggle">
          <input type="checkbox" checked={channel.enabled} disabled={update.isPending}
            onChange={(e) => update.mutate({ enabled: e.target.checked })} />
          {channel.enabled ? t("channels.enabled") : t("channels.disabled")}
        </label>
        <select aria-label={t("channels.assistantOf", { name: channel.name })} value={channel.assistant_id ?? ""}
          disabled={update.isPending}
          onChange={(e) => update.mutate({ assistant_id: e.target.value || null })}>
          <option value="">{t("channels.noAssistant")}</option>
          {assistants.map((a) => <option key={a.id} value={a.id}>{a.name}</option>)}
        </select>
        <button type="button" className="btn btn-sm" aria-expanded={open} onClick={() => setOpen(!open)}>
          {open ? t("channels.less") : t("channels.more")}
        </button>
        <ConfirmButton label={t("channels.delete", { name: channel.name })} title={t("channels.delete", { name: channel.name })}
          message={t("channels.confirmDelete", { name: channel.name })} confirmLabel={t("common.delete")}
          onConfirm={() => remove.mutate()} className="icon-btn btn-quiet-danger"><TrashIcon /></ConfirmButton>
      </div>
      <ChannelHealthNote channel={channel} />
      <ErrorNote text={update.error ? errorText(update.error, t) : remove.error ? errorText(remove.error, t) : null} />
      {open && (
        <div className="row-detail">
          <WebhookFields channel={channel} />
          <CheckConnection channel={channel} onChecked={refresh} />
          <ChangeCredentials channel={channel} kind={kind} />
          <ChannelExtra channel={channel} />
        </div>
      )}
    </li>
  );
}

function ChannelHealthNote({ channel }: { channel: Channel }) {
  const { t, lang } = useI18n();
  const h = channel.health;
  const lines: { bad: boolean; text: string }[] = [];
  if (channel.status === "attention") {
    lines.push({ bad: true, text: t("channels.attention", { reason: channel.status_reason ?? "" }) });
  }
  if (channel.webhook_url) {
    lines.push({ bad: false, text: h.last_webhook_at
      ? t("channels.lastWebhook", { when: formatRelative(h.last_webhook_at, lang) }) : t("channels.noWebhookYet") });
  }
  if (h.webhooks_failed > 0) {
    lines.push({ bad: true, text: t("channels.webhooksFailed", { n: h.webhooks_failed, reason: h.last_webhook_error ?? "" }) });
  }
  if (h.deliveries_failing > 0) {
    lines.push({ bad: true, text: t("channels.deliveriesFailing", { n: h.deliveries_failing,
      reason: h.last_delivery_error ?? "", when: h.last_delivery_error_at ? formatRelative(h.last_delivery_error_at, lang) : "" }) });
  } else {
    lines.push({ bad: false, text: t("channels.deliveriesOk") });
  }
  return (
    <ul className="channel-health" aria-label={t("channels.health", { name: channel.name })}>
      {lines.map((l, i) => (
        <li key={i} className={l.bad ? "is-bad" : undefined}>{l.bad ? <AlertIcon /> : <CheckIcon />} {l.text}</li>
      ))}
    </ul>
  );
}

function CheckConnection({ channel, onChecked }: { channel: Channel; onChecked: () => void }) {
  const { t } = useI18n();
  const check = useMutation({ mutationFn: () => api.checkChannel(channel.id), onSettled: onChecked });
  const uncheckable = channel.kind === "web";
  if (uncheckable) return null;
  return (
    <div className="channel-check">
      <button type="button" className="btn btn-sm" onClick={() => check.mutate()} disabled={check.isPending}>
        {check.isPending ? t("channels.checking") : t("channels.check")}
      </button>
      {check.data && <CheckResult result={check.data} />}
      <ErrorNote text={check.error ? errorText(check.error, t) : null} />
    </div>
  );
}

function CheckResult({ result }: { result: ChannelCheck }) {
  const { t, lang } = useI18n();
  return (
    <div className={`check-result ${result.ok ? "is-ok" : "is-bad"}`} role="status">
      <p><strong>{result.ok ? t("channels.checkOk") : t("channels.checkFailed")}</strong></p>
      <ul>
        {result.checks.map((c) => (
          <li key={c.name} className={c.ok ? undefined : "is-bad"}>{c.ok ? <CheckIcon /> : <AlertIcon />} {checkText(c, lang, t)}</li>
        ))}
      </ul>
    </div>
  );
}

function ChangeCredentials({ channel, kind }: { channel: Channel; kind?: ChannelKindInfo }) {
  const { t } = useI18n();
  const client = useQueryClient();
  const fields = credentialFields(kind?.credentials);
  const [values, setValues] = useState<Record<string, string>>({});
  const save = useMutation({
    mutationFn: () => api.updateChannel(channel.id, { credentials: credentialsToSend(fields, values) }),
    onSuccess: async () => {
      setValues({});
      await client.invalidateQueries({ queryKey: keys.channels });
    },
  });
  if (fields.length === 0) return null;
  const errors = fieldErrors(save.error, t);
  const given = Object.keys(credentialsToSend(fields, values)).length > 0;
  function submit(e: FormEvent) {
    e.preventDefault();
    if (given) save.mutate();
  }
  return (
    <form onSubmit={submit} noValidate aria-label={t("channels.changeCredentials", { name: channel.name })}
      className="inline-form">
      <CredentialInputs fields={fields} values={values} onChange={setValues} errors={errors} stored={channel.credentials_set} />
      <div className="form-actions">
        <button type="submit" className="btn btn-sm" disabled={!given || save.isPending}>{t("channels.saveCredentials")}</button>
        {save.isSuccess && <span className="muted small" role="status">{t("common.saved")}</span>}
      </div>
      <ErrorNote text={formErrorText(save.error, t, fields.map((f) => f.name))} />
    </form>
  );
}
