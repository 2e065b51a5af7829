import { useEffect, useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ApiError } from "../api/client";
import { api, keys } from "../api/endpoints";
import type { Contact } from "../api/types";
import { channelColor } from "../lib/channels";
import { useI18n } from "../lib/context";
import { formatRelative } from "../lib/dates";
import { errorText, fieldErrors, formErrorText } from "../lib/errors";
import type { MessageKey } from "../i18n";
import { applyEvent } from "../lib/live";
import { TagChip } from "./common";
import { RefreshIcon, SparkIcon, TagIcon } from "./icons";
import { TagManager } from "./TagManager";

export function ContactPane({ conversationId, inDrawer }: { conversationId: string | null; inDrawer?: boolean }) {
  const { t } = useI18n();
  const chat = useQuery({
    queryKey: keys.chat(conversationId ?? ""), queryFn: () => api.chat(conversationId!), enabled: !!conversationId,
  });
  const contactId = chat.data?.contact_id;
  const contact = useQuery({ queryKey: keys.contact(contactId ?? ""), queryFn: () => api.contact(contactId!), enabled: !!contactId });
  const Wrapper = inDrawer ? "div" : "aside";
  return (
    <Wrapper className={inDrawer ? "contact-drawer" : "col col-contact"} aria-label={inDrawer ? undefined : t("contact.title")}>
      {contact.data && conversationId ? (
        <>
          <ContactForm key={contact.data.id} contact={contact.data} />
          <TagsSection contact={contact.data} />
          <SummarySection conversationId={conversationId} />
          <IdentitiesSection contact={contact.data} />
        </>
      ) : (
        <div className="contact-empty muted">{conversationId ? "…" : ""}</div>
      )}
    </Wrapper>
  );
}

/** Update the contact wherever it is shown (its detail and the list rows), as its event would. */
function useContactSaved() {
  const client = useQueryClient();
  return (contact: Contact) => {
    client.setQueryData(keys.contact(contact.id), contact);
    applyEvent(client, { seq: -1, type: "contact.updated", data: contact });
  };
}

function ContactForm({ contact }: { contact: Contact }) {
  const { t, lang } = useI18n();
  const saved = useContactSaved();
  const [name, setName] = useState(contact.display_name);
  const [phone, setPhone] = useState(contact.phone ?? "");
  const [notes, setNotes] = useState(contact.notes);
  const [done, setDone] = useState(false);
  // Follow changes made elsewhere (another agent, an event) unless this form has unsaved edits.
  const [base, setBase] = useState(contact);
  useEffect(() => {
    if (contact === base) return;
    if (name === base.display_name) setName(contact.display_name);
    if (phone === (base.phone ?? "")) setPhone(contact.phone ?? "");
    if (notes === base.notes) setNotes(contact.notes);
    setBase(contact);
  }, [contact, base, name, phone, notes]);

  const save = useMutation({
    mutationFn: () => {
      const body: Partial<Pick<Contact, "display_name" | "phone" | "notes">> = {};
      if (name.trim() !== contact.display_name) body.display_name = name.trim();
      if (phone.trim() !== (contact.phone ?? "")) body.phone = phone.trim();
      if (notes !== contact.notes) body.notes = notes;
      return api.updateContact(contact.id, body);
    },
    onSuccess: (next) => {
      saved(next);
      setDone(true);
    },
    onMutate: () => setDone(false),
  });
  const fields = fieldErrors(save.error, t);
  const nameError = fields.display_name;
  const phoneError = fields.phone;
  const notesError = fields.notes;
  const formError = formErrorText(save.error, t, ["display_name", "phone", "notes"]);
  const generalError = formError ? t("contact.error", { message: formError }) : null;
  const dirty = name.trim() !== contact.display_name || phone.trim() !== (contact.phone ?? "") || notes !== contact.notes;

  function submit(e: FormEvent) {
    e.preventDefault();
    if (dirty) save.mutate();
  }

  return (
    <form className="panel contact-form" onSubmit={submit} aria-labelledby="contact-title" noValidate>
      <div className="panel-head">
        <h2 id="contact-title">{t("contact.title")}</h2>
        {contact.last_seen_at && (
          <span className="muted small">{t("contact.lastSeen", { when: formatRelative(contact.last_seen_at, lang) })}</span>
        )}
      </div>
      <div className="field">
        <label htmlFor="contact-name">{t("contact.name")}</label>
        <input id="contact-name" value={name} onChange={(e) => setName(e.target.value)} maxLength={200}
          aria-invalid={!!nameError} aria-describedby={nameError ? "err-name" : undefined} />
        {nameError && <span className="field-error" id="err-name" role="alert">{nameError}</span>}
      </div>
      <div className="field">
        <label htmlFor="contact-phone">{t("contact.phone")}</label>
        <input id="contact-phone" value={phone} onChange={(e) => setPhone(e.target.value)} inputMode="tel"
          placeholder="+525512345678" aria-invalid={!!phoneError} aria-describedby={phoneError ? "err-phone" : "hint-phone"} />
        {phoneError ? <span className="field-error" id="err-phone" role="alert">{phoneError}</span>
          : <span className="field-hint" id="hint-phone">{t("contact.phoneHint")}</span>}
      </div>
      <div className="field">
        <label htmlFor="contact-notes">{t("contact.notes")}</label>
        <textarea id="contact-notes" value={notes} onChange={(e) => setNotes(e.target.value)} rows={3}
          aria-invalid={!!notesError} aria-describedby={notesError ? "err-notes" : undefined} />
        {notesError && <span className="field-error" id="err-notes" role="alert">{notesError}</span>}
      </div>
      {generalError && <p className="form-error" role="alert">{generalError}</p>}
      <div className="form-actions">
        {done && !dirty && <span className="saved" role="status">{t("contact.saved")}</span>}
        <button type="submit" className="btn btn-primary btn-sm" disabled={!dirty || save.isPending}>
          {save.isPending ? t("contact.saving") : t("contact.save")}
        </button>
      </div>
    </form>
  );
}

function TagsSection({ contact }: { contact: Contact }) {
  const { t } = useI18n();
  const saved = useContactSaved();
  const tags = useQuery({ queryKey: keys.tags, queryFn: api.tags, staleTime: Infinity });
  const [managing, setManaging] = useState(false);
  const apply = useMutation({ mutationFn: (tagId: string) => api.applyTag(contact.id, tagId), onSuccess: saved });
  const remove = useMutation({ mutationFn: (tagId: string) => api.removeTag(contact.id, tagId), onSuccess: saved });
  const available = (tags.data ?? []).filter((x) => !contact.tags.some((c) => c.id === x.id));
  return (
    <section className="panel" aria-labelledby="tags-title">
      <div className="panel-head">
        <h2 id="tags-title"><TagIcon /> {t("tags.title")}</h2>
        <button type="button" className="link" onClick={() => setManaging(true)}>{t("tags.manage")}</button>
      </div>
      <div className="chips" role="list" aria-label={t("tags.title")}>
        {contact.tags.length === 0 && <span className="muted small">{t("tags.none")}</span>}
        {contact.tags.map((tag) => (
          <span role="listitem" key={tag.id}>
            <TagChip tag={tag} onRemove={() => remove.mutate(tag.id)} removeLabel={t("tags.remove", { name: tag.name })} />
          </span>
        ))}
      </div>
      <select className="tag-add" aria-label={t("tags.add")} value="" disabled={available.length === 0 || apply.isPending}
        onChange={(e) => { if (e.target.value) apply.mutate(e.target.value); }}>
        <option value="">{t("tags.add")}…</option>
        {available.map((x) => <option key={x.id} value={x.id}>{x.name}</option>)}
      </select>
      {(apply.error || remove.error) && <p className="form-error" role="alert">{errorText(apply.error ?? remove.error, t)}</p>}
      {managing && <TagManager onClose={() => setManaging(false)} />}
    </section>
  );
}

function SummarySection({ conversationId }: { conversationId: string }) {
  const { t, lang } = useI18n();
  const client = useQueryClient();
  const summary = useQuery({
    queryKey: keys.summary(conversationId),
    queryFn: async () => {
      try {
        return await api.summary(conversationId);
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) return null; // none generated yet
        throw err;
      }
    },
    retry: false,
  });
  const refresh = useMutation({
    mutationFn: () => api.refreshSummary(conversationId),
    onSuccess: (data) => client.setQueryData(keys.summary(conversationId), data),
  });
  const data = summary.data;
  return (
    <section className="panel" aria-labelledby="summary-title">
      <div className="panel-head">
        <h2 id="summary-title"><SparkIcon /> {t("summary.title")}</h2>
        <button type="button" className="icon-btn" onClick={() => refresh.mutate()} disabled={refresh.isPending}
          aria-label={t("summary.refresh")} title={t("summary.refresh")}>
          <RefreshIcon className={refresh.isPending ? "spin" : undefined} />
        </button>
      </div>
      <div className="summary" aria-busy={refresh.isPending} aria-live="polite">
        {refresh.isPending && <p className="muted small" role="status">{t("summary.refreshing")}</p>}
        {summary.isPending ? <p className="muted small">…</p>
          : summary.isError || refresh.isError ? <p className="muted small">{t("summary.unavailable")}</p>
          : !data || !data.summary ? <p className="muted small">{t("summary.none")}</p>
          : (
            <>
              <p className="summary-text">{data.summary}</p>
              {data.generated_at && (
                <p className="muted small">
                  {t("summary.generatedAt", { when: formatRelative(data.generated_at, lang), n: data.message_count })}
                </p>
              )}
              {data.handoff_brief && (
                <div className="handoff">
                  <h3>{t("summary.handoff")}</h3>
                  <p>{data.handoff_brief}</p>
                </div>
              )}
            </>
          )}
      </div>
    </section>
  );
}

function IdentitiesSection({ contact }: { contact: Contact }) {
  const { t } = useI18n();
  if (contact.identities.length === 0) return null;
  return (
    <section className="panel" aria-labelledby="ids-title">
      <h2 id="ids-title" className="panel-head">{t("contact.identities")}</h2>
      <ul className="identities">
        {contact.identities.map((id) => (
          <li key={`${id.channel_id}-${id.external_id}`}>
            <span className="channel-pill" style={{ background: channelColor(id.channel_source) }}>
              {t(`channel.${id.channel_source}` as MessageKey) || id.channel_source}
            </span>
            <span className="identity-text">
              <strong>{id.channel_name}</strong>
              <span className="muted small">{id.external_id}</span>
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}
