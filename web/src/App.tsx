import { useEffect } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { ApiError, setCsrfToken, setUnauthorizedHandler } from "./api/client";
import { api, keys } from "./api/endpoints";
import { Inbox } from "./components/Inbox";
import { LoginPage } from "./components/LoginPage";
import { useI18n } from "./lib/context";
import { inboxPath, navigate, parseInboxPath, usePath } from "./lib/router";

export function App() {
  const path = usePath();
  const client = useQueryClient();
  const { t } = useI18n();
  const me = useQuery({
    queryKey: keys.me,
    queryFn: async () => {
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

  useEffect(() => {
    setUnauthorizedHandler(() => {
      setCsrfToken(null);
      client.setQueryData(keys.me, null);
    });
  }, [client]);

  const session = me.data;
  const route = parseInboxPath(path);

  useEffect(() => {
    if (me.isPending) return;
    if (!session) {
      if (path !== "/login") navigate(`/login${route ? `?next=${encodeURIComponent(path)}` : ""}`, { replace: true });
      return;
    }
    if (!route && session.tenant) navigate(inboxPath(session.tenant.slug), { replace: true });
  }, [me.isPending, session, path, route]);

  // The slug in the address picks the tenant when the user belongs to several.
  useEffect(() => {
    if (!session || !route || session.tenant?.slug === route.slug) return;
    if (session.tenants.some((x) => x.slug === route.slug)) {
      api.selectTenant(route.slug).then((next) => {
        setCsrfToken(next.csrf_token);
        client.clear();
        client.setQueryData(keys.me, next);
      });
    } else if (session.tenant) {
      navigate(inboxPath(session.tenant.slug), { replace: true });
    }
  }, [session, route, client]);

  if (me.isPending) return <div className="splash" role="status">{t("list.loading")}</div>;
  if (me.isError) {
    return (
      <div className="splash" role="alert">
        {String(me.error)} <button onClick={() => me.refetch()}>{t("common.retry")}</button>
      </div>
    );
  }
  if (!session) return <LoginPage />;
  if (!route || !session.tenant || session.tenant.slug !== route.slug) {
    return <div className="splash" role="status">{t("list.loading")}</div>;
  }
  return <Inbox session={session} slug={route.slug} conversationId={route.conversationId} />;
}
