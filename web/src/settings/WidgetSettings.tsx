// The website chat's widget: per `web` channel, the sites it may run on, how it looks and what it
// asks, the tag to paste, the identity secret, and a link to the sample page that shows it.
import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { request } from "../api/client";
import type { components } from "../api/schema";
import { useI18n } from "../lib/context";
import { errorText, fieldErrors, formErrorText } from "../lib/errors";
import { ErrorNote, Field } from "./form";

type Channel = components["schemas"]["ChannelOut"];
type WebUpdate = components["schemas"]["WebChannelUpdate"];
const channelsKey = ["channels"] as const;

export function WidgetSettings() {
  const { t } = useI18n();
  const channels = useQuery({ queryKey: channelsKey, queryFn: () => request<Channel[]>("GET", "/admin/channels") });
  if (channels.isPending) return <p role="status">{t("common.loading")}</p>;
  if (channels.isError) return <ErrorNote text={errorText(channels.error, t)} />;
  const web = channels.data.filter((c) => c.kind === "web" && c.web);
  if (!web.length) return <p>{t("widget.none")}</p>;
  return <>{web.map((c) => <WidgetForm key={c.id} channel={c} />)}</>;
}

function WidgetForm({ channel }: { channel: Channel }) {
  const { t } = useI18n();
  const client = useQueryClient();
  const web = channel.web!;
  const [origins, setOrigins] = useState((web.allowed_origins ?? []).join("\n"));
  const [colour, setColour] = useState(web.colour);
  const [greeting, setGreeting] = useState(web.greeting);
  const [name, setName] = useState(web.assistant_name);
  const [hours, setHours] = useState(web.business_hours_message);
  const [askName, setAskName] = useState(web.ask_name);
  const [askEmail, setAskEmail] = useState(web.ask_email);
  const [copied, setCopied] = useState(false);
  const changes: WebUpdate = {
    allowed_origins: origins.split(/[\s,]+/).map((o) => o.trim()).filter(Boolean),
    colour, greeting, assistant_name: name, business_hours_message: hours, ask_name: askName, ask_email: askEmail,
  };
  const save = useMutation({
    mutationFn: (body: WebUpdate) => request<Channel>("PATCH", `/admin/channels/${channel.id}`, { web: body }),
    onSuccess: (next) => client.setQueryData<Channel[]>(channelsKey, (all) => all?.map((c) => (c.id === next.id ? next : c))),
  });
  const errors = fieldErrors(save.error, t);
  const titleId = `widget-${channel.id}`;
  function submit(e: FormEvent) {
    e.preventDefault();
    save.mutate(changes);
  }
  async function copy() {
    await navigator.clipboard?.writeText(channel.snippet ?? "").catch(() => undefined);
    setCopied(true);
  }
  return (
    <section className="settings-card" aria-labelledby={titleId}>
      <h2 id={titleId}>{t("widget.title", { name: channel.name })}</h2>
      <Field label={t("widget.snippet")} hint={t("widget.snippetHint")}>
        <textarea readOnly rows={2} value={channel.snippet ?? ""} onFocus={(e) => e.currentTarget.select()} />
      </Field>
      <div className="form-actions">
        {copied && <span className="saved" role="status">{t("widget.copied")}</span>}
        <button type="button" className="btn btn-sm" onClick={copy}>{t("widget.copy")}</button>
        <a className="btn btn-sm" href={`/widget/demo/${channel.id}`} target="_blank" rel="noopener">{t("widget.demo")}</a>
      </div>
      <form className="inline-form" onSubmit={submit} noValidate aria-label={t("widget.title", { name: channel.name })}>
        <Field label={t("widget.origins")} hint={t("widget.originsHint")} error={errors.allowed_origins}>
          <textarea rows={3} value={origins} onChange={(e) => setOrigins(e.target.value)} placeholder="https://www.example.com" />
        </Field>
        <Field label={t("widget.colour")} error={errors.colour}>
          <input type="color" value={colour} onChange={(e) => setColour(e.target.value)} />
        </Field>
        <Field label={t("widget.name")} hint={t("widget.nameHint")} error={errors.assistant_name}>
          <input value={name} maxLength={300} onChange={(e) => setName(e.target.value)} />
        </Field>
        <Field label={t("widget.greeting")} error={errors.greeting}>
          <textarea rows={2} value={greeting} maxLength={300} onChange={(e) => setGreeting(e.target.value)} />
        </Field>
        <Field label={t("widget.hours")} hint={t("widget.hoursHint")} error={errors.business_hours_message}>
          <input value={hours} maxLength={300} onChange={(e) => setHours(e.target.value)} />
        </Field>
        <fieldset className="field">
          <legend>{t("widget.prechat")}</legend>
          <label><input type="checkbox" checked={askName} onChange={(e) => setAskName(e.target.checked)} /> {t("widget.askName")}</label>
          <label><input type="checkbox" checked={askEmail} onChange={(e) => setAskEmail(e.target.checked)} /> {t("widget.askEmail")}</label>
        </fieldset>
        <Field label={t("widget.secret")} hint={t("widget.secretHint")}>
          <input readOnly value={web.identity_secret} onFocus={(e) => e.currentTarget.select()} />
        </Field>
        <ErrorNote text={formErrorText(save.error, t, ["allowed_origins", "colour", "greeting", "assistant_name",
          "business_hours_message"])} />
        <div className="form-actions">
          <button type="button" className="btn" disabled={save.isPending}
            onClick={() => save.mutate({ rotate_identity_secret: true })}>{t("widget.rotate")}</button>
          {save.isSuccess && <span className="saved" role="status">{t("common.saved")}</span>}
          <button type="submit" className="btn btn-primary" disabled={save.isPending}>
            {save.isPending ? t("common.saving") : t("common.save")}
          </button>
        </div>
      </form>
    </section>
  );
}
