// The settings' sections, in the order the navigation shows them. Channels and Templates belong
// between Knowledge and Members; they are added here (with their routes in routes.tsx) once their
// endpoints exist — until then they are not shown at all, so no link leads nowhere.
import type { MessageKey } from "../i18n";

export const SECTIONS = [
  { path: "assistant", label: "settings.nav.assistant" },
  { path: "knowledge", label: "settings.nav.knowledge" },
  // { path: "channels", label: "settings.nav.channels" },   — needs the channel setup endpoints
  // { path: "templates", label: "settings.nav.templates" }, — needs the template endpoints
  { path: "widget", label: "settings.nav.widget" },
  { path: "members", label: "settings.nav.members" },
  { path: "tokens", label: "settings.nav.tokens" },
  { path: "tenant", label: "settings.nav.tenant" },
] as const satisfies ReadonlyArray<{ path: string; label: MessageKey }>;

export type SectionPath = (typeof SECTIONS)[number]["path"];

/** Owners and admins see every section; agents see none (every screen here manages the tenant). */
export function sectionsFor(role: string | undefined): ReadonlyArray<(typeof SECTIONS)[number]> {
  return role === "owner" || role === "admin" ? SECTIONS : [];
}
