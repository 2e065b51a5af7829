import { useMemo, useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, keys } from "../api/endpoints";
import type { Session, TenantSettings as Tenant, TenantSettingsUpdate } from "../api/types";
import { useI18n } from "../lib/context";
import { errorText, fieldErrors, formErrorText } from "../lib/errors";
import { ErrorNote, Field } from "./form";

export function TenantSettings() {
  const { t } = useI18n();
  const tenant = useQuery({ queryKey: keys.tenant, queryFn: api.tenant });
  if (tenant.isPending) return <p role="status">{t("common.loading")}</p>;
  if (tenant.isError) return <ErrorNote text={errorText(tenant.error, t)} />;
  return <TenantForm key={tenant.data.id} tenant={tenant.data} />;
}

function timeZones(current: string): string[] {
  const all = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return [...new Set(["UTC", ...all, current])].sort();
}

function TenantForm({ tenant }: { tenant: Tenant }) {
  const { t } = useI18n();
  const client = useQueryClient();
  const [name, setName] = useState(tenant.name);
  const [zone, setZone] = useState(tenant.time_zone);
  const zones = useMemo(() => timeZones(tenant.time_zone), [tenant.time_zone]);
  const changes: TenantSettingsUpdate = {};
  if (name.trim() !== tenant.name) changes.name = name.trim();
  if (zone !== tenant.time_zone) changes.time_zone = zone;
  const dirty = Object.keys(changes).length > 0;
  const save = useMutation({
    mutationFn: () => api.updateTenant(changes),
    onSuccess: (next) => {
      setName(next.name);
      setZone(next.time_zone);
      client.setQueryData(keys.tenant, next);
      // The header shows the tenant's name from the session.
      client.setQueryData<Session | null>(keys.me, (s) => s && s.tenant
        ? { ...s, tenant: { ...s.tenant, name: next.name }, tenants: s.tenants.map((x) => (x.id === next.id ? { ...x, name: next.name } : x)) }
        : s);
    },
  });
  const errors = fieldErrors(save.error, t);
  function submit(e: FormEvent) {
    e.preventDefault();
    if (dirty) save.mutate();
  }
  return (
    <section className="settings-card" aria-labelledby="tenant-title">
      <h2 id="tenant-title">{t("tenant.title")}</h2>
      <form className="inline-form" onSubmit={submit} noValidate aria-label={t("tenant.title")}>
        <Field label={t("tenant.name")} error={errors.name}>
          <input value={name} onChange={(e) => setName(e.target.value)} maxLength={200} />
        </Field>
        <Field label={t("tenant.address")} hint={t("tenant.addressHint")}>
          <input readOnly value={`/panel_cliente/${tenant.slug}`} />
        </Field>
        <Field label={t("tenant.timeZone")} hint={t("tenant.timeZoneHint")} error={errors.time_zone}>
          <select value={zone} onChange={(e) => setZone(e.target.value)}>
            {zones.map((z) => <option key={z} value={z}>{z.replaceAll("_", " ")}</option>)}
          </select>
        </Field>
        <ErrorNote text={formErrorText(save.error, t, ["name", "time_zone"])} />
        <div className="form-actions">
          {save.isSuccess && !dirty && <span className="saved" role="status">{t("common.saved")}</span>}
          <button type="submit" className="btn btn-primary" disabled={!dirty || save.isPending}>
            {save.isPending ? t("common.saving") : t("common.save")}
          </button>
        </div>
      </form>
    </section>
  );
}
