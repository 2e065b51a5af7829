// The logged-in shell around every panel screen: who is logged in (or the login page), the tenant
// of the address, the event socket and the header. The inbox and the settings render inside it.
import { lazy, Suspense, useEffect, useState } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, Navigate, Outlet, useLocation, useNavigate, useParams } from "@tanstack/react-router";
import { ApiError, setCsrfToken, setUnauthorizedHandler } from "../api/client";
import { api, keys } from "../api/endpoints";
import type { Session } from "../api/types";
import { LANGS, type Lang } from "../i18n";
import { LiveContext, useI18n, useMediaQuery } from "../lib/context";
import { errorText } from "../lib/errors";
import type { SocketState } from "../lib/socket";
import { useLiveSocket } from "../lib/useLiveSocket";
import { ChatIcon, GearIcon, Logo, LogoutIcon, SparkIcon } from "./icons";

// The panel chatbot (seed 002), loaded the first time it is opened.
const ChatDrawer = lazy(() => import("../chatbot/ChatDrawer"));

export const PHONE = "(max-width: 760px)";

export const MANAGER_ROLES = ["owner", "admin"];

/** The logged-in session, or null when nobody is (a 401 from the server). */
export function useSession() {
  const client = useQueryClient();
  useEffect(() => {
    setUnauthorizedHandler(() => {
      setCsrfToken(null);
      client.setQueryData(keys.me, null);
    });
  }, [client]);
  return useQuery({
    queryKey: keys.me,
    queryFn: async (): Promise<Session | null> => {
      try {
        const session = await api.me();
        setCsrfToken(session.csrf_token);
        return session;
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) return null;
        throw err;
      }
    },
    retry: false,
    staleTime: Infinity,
  });
}

export function Splash({ error, onRetry }: { error?: unknown; onRetry?: () => void }) {
  const { t } = useI18n();
  if (error) {
    return (
      <div className="splash" role="alert">
        <p>{errorText(error, t)}</p>
        {onRetry && <button type="button" className="btn" onClick={onRetry}>{t("common.retry")}</button>}
      </div>
    );
  }
  return <div className="splash" role="status">{t("common.loading")}</div>;
}

/** `/`: the inbox of the session's tenant, or the login page. */
export function Home() {
  const me = useSession();
  if (me.isPending) return <Splash />;
  if (me.isError) return <Splash error={me.error} onRetry={() => me.refetch()} />;
  const session = me.data;
  if (!session) return <Navigate to="/login" replace />;
  const slug = session.tenant?.slug ?? session.tenants[0]?.slug;
  if (!slug) return <Navigate to="/login" replace />;
  return <Navigate to="/panel_cliente/$slug/chat" params={{ slug }} replace />;
}

export function Panel() {
  const { slug } = useParams({ from: "/panel_cliente/$slug" });
  const location = useLocation();
  const client = useQueryClient();
  const navigate = useNavigate();
  const me = useSession();
  const session = me.data;
  const inTenant = !!session && session.tenant?.slug === slug;

  // The slug in the address picks the tenant when the user belongs to several.
  useEffect(() => {
    if (!session || inTenant) return;
    if (session.tenants.some((x) => x.slug === slug)) {
      api.selectTenant(slug).then((next) => {
        setCsrfToken(next.csrf_token);
        client.clear();
        client.setQueryData(keys.me, next);
      }).catch(() => {});
    } else if (session.tenant) {
      void navigate({ to: "/panel_cliente/$slug/chat", params: { slug: session.tenant.slug }, replace: true });
    }
  }, [session, inTenant, slug, client, navigate]);

  if (me.isPending) return <Splash />;
  if (me.isError) return <Splash error={me.error} onRetry={() => me.refetch()} />;
  if (!session) return <Navigate to="/login" search={{ next: location.href }} replace />;
  if (!inTenant) return <Splash />;
  return <PanelShell session={session} slug={slug} />;
}

function PanelShell({ session, slug }: { session: Session; slug: string }) {
  const live = useLiveSocket(true);
  const [chatbot, setChatbot] = useState(false);
  return (
    <LiveContext.Provider value={live}>
      <div className="app">
        <Header session={session} slug={slug} live={live} chatbot={chatbot} onChatbot={() => setChatbot((v) => !v)} />
        <Outlet />
        {chatbot && <Suspense fallback={null}><ChatDrawer onClose={() => setChatbot(false)} /></Suspense>}
      </div>
    </LiveContext.Provider>
  );
}

function Header({ session, slug, live, chatbot, onChatbot }: {
  session: Session; slug: string; live: SocketState; chatbot: boolean; onChatbot: () => void;
}) {
  const { t, lang, setLang } = useI18n();
  const client = useQueryClient();
  const navigate = useNavigate();
  const label = live === "open" ? t("conn.open") : live === "connecting" ? t("conn.connecting")
    : live === "reconnecting" ? t("conn.reconnecting") : t("conn.offline");
  const canManage = MANAGER_ROLES.includes(session.tenant?.role ?? "");
  const phone = useMediaQuery(PHONE);
  async function logout() {
    try {
      await api.logout();
    } finally {
      setCsrfToken(null);
      client.clear();
      client.setQueryData(keys.me, null);
      void navigate({ to: "/login", replace: true });
    }
  }
  return (
    <header className="topbar">
      <div className="brand"><Logo /> <span className="brand-name">{t("app.name")}</span></div>
      <span className="tenant-name">{session.tenant?.name}</span>
      <span className={`conn conn-${live}`} role="status" aria-live="polite" aria-label={label} title={label}>
        <span className="conn-dot" aria-hidden="true" /> <span className="conn-label">{label}</span>
      </span>
      <nav className="topbar-right" aria-label={t("app.name")}>
        <Link to="/panel_cliente/$slug/chat" params={{ slug }} className="icon-btn topbar-link"
          activeProps={{ "aria-current": "page" }} aria-label={t("header.inbox")} title={t("header.inbox")}>
          <ChatIcon />
        </Link>
        <button type="button" className="icon-btn topbar-link" onClick={onChatbot} aria-pressed={chatbot}
          aria-label={t("chatbot.open")} title={t("chatbot.open")}>
          <SparkIcon />
        </button>
        {canManage && (
          <Link to="/panel_cliente/$slug/settings" params={{ slug }} className="icon-btn topbar-link"
            activeProps={{ "aria-current": "page" }} aria-label={t("header.settings")} title={t("header.settings")}>
            <GearIcon />
          </Link>
        )}
        <label className="lang-select">
          <span className="sr-only">{t("header.language")}</span>
          <select aria-label={t("header.language")} value={lang} onChange={(e) => setLang(e.target.value as Lang)}>
            {LANGS.map((l) => <option key={l} value={l}>{phone ? l.toUpperCase() : l === "es" ? "Español" : "English"}</option>)}
          </select>
        </label>
        <span className="user-name" title={t("header.user", { name: session.user.display_name })}>
          {session.user.display_name}
        </span>
        <button type="button" className="icon-btn" onClick={logout} aria-label={t("header.logout")} title={t("header.logout")}>
          <LogoutIcon />
        </button>
      </nav>
    </header>
  );
}
