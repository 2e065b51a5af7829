import { useState, type FormEvent } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { ApiError, setCsrfToken } from "../api/client";
import { api, keys } from "../api/endpoints";
import { getRouteApi, useNavigate } from "@tanstack/react-router";
import { useI18n } from "../lib/context";
import { errorText } from "../lib/errors";
import { LANGS, type Lang } from "../i18n";
import { Logo } from "./icons";

const loginRoute = getRouteApi("/login");

export function LoginPage() {
  const { t, lang, setLang } = useI18n();
  const { next } = loginRoute.useSearch();
  const navigate = useNavigate();
  const client = useQueryClient();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session = await api.login(email.trim(), password);
      setCsrfToken(session.csrf_token);
      client.clear();
      client.setQueryData(keys.me, session);
      const slug = session.tenant?.slug ?? session.tenants[0]?.slug;
      if (next) await navigate({ href: next, replace: true });
      else if (slug) await navigate({ to: "/panel_cliente/$slug/chat", params: { slug }, replace: true });
      else await navigate({ to: "/", replace: true });
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 400)) setError(t("login.failed"));
      else setError(t("login.error", { message: errorText(err, t) }));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="login">
      <form className="login-card" onSubmit={submit} aria-labelledby="login-title">
        <div className="login-brand"><Logo /> <span>{t("app.name")}</span></div>
        <h1 id="login-title">{t("login.title")}</h1>
        <p className="muted">{t("login.subtitle")}</p>
        <label className="field">
          <span>{t("login.email")}</span>
          <input type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <label className="field">
          <span>{t("login.password")}</span>
          <input type="password" autoComplete="current-password" required value={password}
            onChange={(e) => setPassword(e.target.value)} />
        </label>
        {error && <p className="form-error" role="alert">{error}</p>}
        <button className="btn btn-primary btn-block" type="submit" disabled={busy}>
          {busy ? t("login.busy") : t("login.submit")}
        </button>
        <label className="login-lang">
          <span>{t("header.language")}</span>
          <select value={lang} onChange={(e) => setLang(e.target.value as Lang)}>
            {LANGS.map((l) => <option key={l} value={l}>{l === "es" ? "Español" : "English"}</option>)}
          </select>
        </label>
      </form>
    </main>
  );
}
