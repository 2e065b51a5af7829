// The settings' sections, in the order the navigation shows them (each with its route and lazy
// chunk in routes.tsx).
import type { MessageKey } from "../i18n";

export const SECTIONS = [
  { path: "assistant", label: "settings.nav.assistant" },
  { path: "knowledge", label: "settings.nav.knowledge" },
  { path: "channels", label: "settings.nav.channels" },
  { path: "templates", label: "settings.nav.templates" },
  { path: "widget", label: "settings.nav.widget" },
  { path: "canned", label: "settings.nav.canned" },
  { path: "members", label: "settings.nav.members" },
  { path: "tokens", label: "settings.nav.tokens" },
  { path: "tenant", label: "settings.nav.tenant" },
] as const satisfies ReadonlyArray<{ path: string; label: MessageKey }>;

export type SectionPath = (typeof SECTIONS)[number]["path"];

/** Owners and admins see every section; agents see none (every screen here manages the tenant). */
export function sectionsFor(role: string | undefined): ReadonlyArray<(typeof SECTIONS)[number]> {
  return role === "owner" || role === "admin" ? SECTIONS : [];
}
