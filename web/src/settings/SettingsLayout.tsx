import { useEffect, useRef } from "react";
import { Link, Outlet, useLocation, useParams } from "@tanstack/react-router";
import { useSession } from "../components/Panel";
import { useI18n } from "../lib/context";
import { sectionsFor } from "./sections";

export function SettingsLayout() {
  const { t } = useI18n();
  const { slug } = useParams({ from: "/panel_cliente/$slug" });
  const role = useSession().data?.tenant?.role;
  const sections = sectionsFor(role);
  const main = useRef<HTMLElement>(null);
  const { pathname } = useLocation();
  // Each section opens at its top (the scrolling box is this layout's, not the window).
  useEffect(() => main.current?.scrollTo(0, 0), [pathname]);
  if (sections.length === 0) {
    return (
      <main className="settings settings-forbidden">
        <div className="settings-card" role="alert">
          <p>{t("settings.forbidden")}</p>
          <Link to="/panel_cliente/$slug/chat" params={{ slug }} className="btn">{t("settings.backToInbox")}</Link>
        </div>
      </main>
    );
  }
  return (
    <div className="settings">
      <nav className="settings-nav" aria-label={t("settings.nav")}>
        <h1 className="settings-title">{t("settings.title")}</h1>
        <ul>
          {sections.map((s) => (
            <li key={s.path}>
              <Link to={`/panel_cliente/$slug/settings/${s.path}`} params={{ slug }}
                activeProps={{ className: "is-active", "aria-current": "page" }}>
                {t(s.label)}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <main className="settings-main" ref={main}>
        <Outlet />
      </main>
    </div>
  );
}
