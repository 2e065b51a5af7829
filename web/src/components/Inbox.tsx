import { useCallback, useEffect } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { setCsrfToken } from "../api/client";
import { api, keys } from "../api/endpoints";
import type { Session } from "../api/types";
import { LiveContext, useI18n } from "../lib/context";
import { LANGS, type Lang } from "../lib/i18n";
import { inboxPath, navigate } from "../lib/router";
import type { SocketState } from "../lib/socket";
import { useLiveSocket } from "../lib/useLiveSocket";
import { ChatPane } from "./ChatPane";
import { ContactPane } from "./ContactPane";
import { ConversationList } from "./ConversationList";
import { Logo, LogoutIcon } from "./icons";

export function Inbox({ session, slug, conversationId }: { session: Session; slug: string; conversationId: string | null }) {
  const live = useLiveSocket(true);
  const select = useCallback((id: string | null) => navigate(inboxPath(slug, id)), [slug]);

  // "/" focuses the composer from anywhere that is not a text field (like WhatsApp Web's shortcut).
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement | null;
      const typing = target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
      if (e.key === "/" && !typing && !e.ctrlKey && !e.metaKey && !e.altKey && !document.querySelector("dialog[open]")) {
        const composer = document.getElementById("composer");
        if (composer) {
          e.preventDefault();
          composer.focus();
        }
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  return (
    <LiveContext.Provider value={live}>
      <div className="app">
        <Header session={session} live={live} />
        <div className="columns">
          <ConversationList selectedId={conversationId} onSelect={select} />
          <ChatPane key={conversationId ?? "none"} conversationId={conversationId} userName={session.user.display_name} />
          <ContactPane conversationId={conversationId} />
        </div>
      </div>
    </LiveContext.Provider>
  );
}

function Header({ session, live }: { session: Session; live: SocketState }) {
  const { t, lang, setLang } = useI18n();
  const client = useQueryClient();
  const label = live === "open" ? t("conn.open") : live === "connecting" ? t("conn.connecting")
    : live === "reconnecting" ? t("conn.reconnecting") : t("conn.offline");
  async function logout() {
    try {
      await api.logout();
    } finally {
      setCsrfToken(null);
      client.clear();
      client.setQueryData(keys.me, null);
      navigate("/login", { replace: true });
    }
  }
  return (
    <header className="topbar">
      <div className="brand"><Logo /> <span>{t("app.name")}</span></div>
      <span className="tenant-name">{session.tenant?.name}</span>
      <span className={`conn conn-${live}`} role="status" aria-live="polite" aria-label={label} title={label}>
        <span className="conn-dot" aria-hidden="true" /> {label}
      </span>
      <div className="topbar-right">
        <label className="lang-select">
          <span className="sr-only">{t("header.language")}</span>
          <select aria-label={t("header.language")} value={lang} onChange={(e) => setLang(e.target.value as Lang)}>
            {LANGS.map((l) => <option key={l} value={l}>{l === "es" ? "Español" : "English"}</option>)}
          </select>
        </label>
        <span className="user-name">{session.user.display_name}</span>
        <button type="button" className="icon-btn" onClick={logout} aria-label={t("header.logout")} title={t("header.logout")}>
          <LogoutIcon />
        </button>
      </div>
    </header>
  );
}
