// A minimal client-side router: the app has three routes, a library would cost more than it gives.
import { useSyncExternalStore } from "react";

const listeners = new Set<() => void>();

function subscribe(fn: () => void): () => void {
  listeners.add(fn);
  window.addEventListener("popstate", fn);
  return () => {
    listeners.delete(fn);
    window.removeEventListener("popstate", fn);
  };
}

export function navigate(path: string, { replace = false } = {}): void {
  if (path === window.location.pathname + window.location.search) return;
  if (replace) window.history.replaceState(null, "", path);
  else window.history.pushState(null, "", path);
  listeners.forEach((fn) => fn());
}

export function usePath(): string {
  return useSyncExternalStore(subscribe, () => window.location.pathname);
}

export interface InboxRoute {
  slug: string;
  conversationId: string | null;
}

/** `/panel_cliente/<slug>/chat[/<conversation id>]` (seed 000's route). */
export function parseInboxPath(path: string): InboxRoute | null {
  const m = /^\/panel_cliente\/([^/]+)\/chat(?:\/([0-9a-fA-F-]{36}))?\/?$/.exec(path);
  if (!m) return null;
  return { slug: decodeURIComponent(m[1]), conversationId: m[2] ?? null };
}

export function inboxPath(slug: string, conversationId?: string | null): string {
  return `/panel_cliente/${encodeURIComponent(slug)}/chat${conversationId ? `/${conversationId}` : ""}`;
}
