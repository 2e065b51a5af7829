import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, keys } from "../api/endpoints";
import type { Member, Role } from "../api/types";
import { useSession } from "../components/Panel";
import { TrashIcon } from "../components/icons";
import type { MessageKey } from "../i18n";
import { useI18n } from "../lib/context";
import { errorText, fieldErrors, formErrorText } from "../lib/errors";
import { ConfirmButton, ErrorNote, Field } from "./form";
import { memberRules } from "./memberRules";

const ROLES: Role[] = ["owner", "admin", "agent"];

export function MembersSettings() {
  const { t } = useI18n();
  const session = useSession().data;
  const members = useQuery({ queryKey: keys.members, queryFn: api.members });
  const myRole = session?.tenant?.role ?? "agent";
  const list = members.data ?? [];
  return (
    <div className="settings-stack">
      <section className="settings-card" aria-labelledby="members-title">
        <h2 id="members-title">{t("members.title")}</h2>
        <p className="muted small">{t("members.hint")}</p>
        {members.isPending && <p role="status">{t("common.loading")}</p>}
        {members.isError && <ErrorNote text={errorText(members.error, t)} />}
        <ul className="rows" aria-label={t("members.title")}>
          {list.map((m) => (
            <MemberRow key={m.user_id} member={m} members={list} myRole={myRole} me={session?.user.id} />
          ))}
        </ul>
      </section>
      <section className="settings-card" aria-labelledby="add-member-title">
        <h2 id="add-member-title">{t("members.add")}</h2>
        <AddMember myRole={myRole} />
      </section>
    </div>
  );
}

function MemberRow({ member, members, myRole, me }: { member: Member; members: Member[]; myRole: string; me?: string }) {
  const { t } = useI18n();
  const client = useQueryClient();
  const rules = memberRules(member, members, myRole);
  const refresh = () => client.invalidateQueries({ queryKey: keys.members });
  const role = useMutation({ mutationFn: (next: Role) => api.setMemberRole(member.user_id, next), onSuccess: refresh });
  const remove = useMutation({ mutationFn: () => api.removeMember(member.user_id), onSuccess: refresh });
  const name = member.display_name || member.email;
  return (
    <li className="row-item" aria-label={name}>
      <div className="row-line">
        <div className="row-main">
          <strong>{name}{member.user_id === me && <span className="muted"> ({t("members.you")})</span>}</strong>
          <span className="muted small row-sub">{member.email}</span>
        </div>
        <select aria-label={t("members.roleOf", { name })} value={member.role} disabled={!rules.canChangeRole || role.isPending}
          onChange={(e) => role.mutate(e.target.value as Role)}>
          {ROLES.filter((r) => r === member.role || rules.assignable.includes(r)).map((r) => (
            <option key={r} value={r}>{t(`role.${r}` as MessageKey)}</option>
          ))}
        </select>
        <ConfirmButton label={t("members.remove", { name })} title={t("members.remove", { name })}
          message={t("members.confirmRemove", { name })} confirmLabel={t("members.remove", { name })}
          onConfirm={() => remove.mutate()} className="icon-btn danger" disabled={!rules.canRemove}>
          <TrashIcon />
        </ConfirmButton>
      </div>
      {rules.lastOwner && <p className="field-hint">{t("members.lastOwner")}</p>}
      <ErrorNote text={role.error ? errorText(role.error, t) : remove.error ? errorText(remove.error, t) : null} />
    </li>
  );
}

function AddMember({ myRole }: { myRole: string }) {
  const { t } = useI18n();
  const client = useQueryClient();
  const [email, setEmail] = useState("");
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<Role>("agent");
  const add = useMutation({
    mutationFn: () => api.addMember({ email: email.trim(), display_name: name.trim() || null, password, role }),
    onSuccess: async () => {
      setName("");
      setPassword("");
      await client.invalidateQueries({ queryKey: keys.members });
    },
  });
  const errors = fieldErrors(add.error, t);
  function submit(e: FormEvent) {
    e.preventDefault();
    if (email.trim()) add.mutate();
  }
  const roles = ROLES.filter((r) => r !== "owner" || myRole === "owner");
  return (
    <form className="inline-form" onSubmit={submit} noValidate aria-label={t("members.add")}>
      <div className="form-grid">
        <Field label={t("members.email")} error={errors.email}>
          <input type="email" autoComplete="off" value={email} onChange={(e) => setEmail(e.target.value)} maxLength={320} />
        </Field>
        <Field label={t("members.displayName")} error={errors.display_name}>
          <input value={name} onChange={(e) => setName(e.target.value)} maxLength={200} />
        </Field>
        <Field label={t("members.password")} hint={t("members.passwordHint")} error={errors.password}>
          <input type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)}
            maxLength={256} />
        </Field>
        <Field label={t("members.role")} error={errors.role}>
          <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {roles.map((r) => <option key={r} value={r}>{t(`role.${r}` as MessageKey)}</option>)}
          </select>
        </Field>
      </div>
      <ErrorNote text={formErrorText(add.error, t, ["email", "display_name", "password", "role"])} />
      {add.isSuccess && <p className="saved" role="status">{t("members.created", { email: add.data.email })}</p>}
      <div className="form-actions">
        <button type="submit" className="btn btn-primary btn-sm" disabled={!email.trim() || add.isPending}>
          {t("members.create")}
        </button>
      </div>
    </form>
  );
}
