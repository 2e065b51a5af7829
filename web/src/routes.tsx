// The app's addresses (TanStack Router). The inbox keeps seed 000's `/panel_cliente/<slug>/chat`,
// with the open conversation in the path and the list's filters in the search parameters; the
// settings screens are their own lazily loaded chunks under `/panel_cliente/<slug>/settings/...`.
import {
  createRootRoute, createRoute, createRouter, lazyRouteComponent, Navigate, Outlet, redirect,
} from "@tanstack/react-router";
import { Home, Panel } from "./components/Panel";
import { Inbox } from "./components/Inbox";
import { LoginPage } from "./components/LoginPage";
import { parseInboxSearch } from "./lib/inboxSearch";

const rootRoute = createRootRoute({ component: Outlet });

const indexRoute = createRoute({ getParentRoute: () => rootRoute, path: "/", component: Home });

const loginRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/login",
  validateSearch: (raw: Record<string, unknown>): { next?: string } =>
    typeof raw.next === "string" && raw.next.startsWith("/panel_cliente/") ? { next: raw.next } : {},
  component: LoginPage,
});

const panelRoute = createRoute({ getParentRoute: () => rootRoute, path: "/panel_cliente/$slug", component: Panel });

const panelIndexRoute = createRoute({
  getParentRoute: () => panelRoute,
  path: "/",
  beforeLoad: ({ params }) => {
    throw redirect({ to: "/panel_cliente/$slug/chat", params, replace: true });
  },
});

// The inbox stays mounted while conversations open and close: the open one is a child route
// without a component of its own, read by the inbox from the path.
const chatRoute = createRoute({
  getParentRoute: () => panelRoute, path: "chat", validateSearch: parseInboxSearch, component: Inbox,
});
const chatIndexRoute = createRoute({ getParentRoute: () => chatRoute, path: "/" });
const conversationRoute = createRoute({ getParentRoute: () => chatRoute, path: "$conversationId" });

const settingsRoute = createRoute({
  getParentRoute: () => panelRoute,
  path: "settings",
  component: lazyRouteComponent(() => import("./settings/SettingsLayout"), "SettingsLayout"),
});
const settingsIndexRoute = createRoute({
  getParentRoute: () => settingsRoute,
  path: "/",
  beforeLoad: ({ params }) => {
    throw redirect({ to: "/panel_cliente/$slug/settings/assistant", params, replace: true });
  },
});
// One route and one chunk per screen (see settings/sections.ts).
const settingsScreens = [
  createRoute({ getParentRoute: () => settingsRoute, path: "assistant",
    component: lazyRouteComponent(() => import("./settings/AssistantSettings"), "AssistantSettings") }),
  createRoute({ getParentRoute: () => settingsRoute, path: "knowledge",
    component: lazyRouteComponent(() => import("./settings/KnowledgeSettings"), "KnowledgeSettings") }),
  createRoute({ getParentRoute: () => settingsRoute, path: "channels",
    component: lazyRouteComponent(() => import("./settings/ChannelsSettings"), "ChannelsSettings") }),
  createRoute({ getParentRoute: () => settingsRoute, path: "templates",
    component: lazyRouteComponent(() => import("./settings/TemplatesSettings"), "TemplatesSettings") }),
  createRoute({ getParentRoute: () => settingsRoute, path: "widget",
    component: lazyRouteComponent(() => import("./settings/WidgetSettings"), "WidgetSettings") }),
  createRoute({ getParentRoute: () => settingsRoute, path: "canned",
    component: lazyRouteComponent(() => import("./settings/CannedSettings"), "CannedSettings") }),
  createRoute({ getParentRoute: () => settingsRoute, path: "members",
    component: lazyRouteComponent(() => import("./settings/MembersSettings"), "MembersSettings") }),
  createRoute({ getParentRoute: () => settingsRoute, path: "tokens",
    component: lazyRouteComponent(() => import("./settings/TokensSettings"), "TokensSettings") }),
  createRoute({ getParentRoute: () => settingsRoute, path: "tenant",
    component: lazyRouteComponent(() => import("./settings/TenantSettings"), "TenantSettings") }),
] as const;

const routeTree = rootRoute.addChildren([
  indexRoute,
  loginRoute,
  panelRoute.addChildren([
    panelIndexRoute,
    chatRoute.addChildren([chatIndexRoute, conversationRoute]),
    settingsRoute.addChildren([settingsIndexRoute, ...settingsScreens]),
  ]),
]);

export const router = createRouter({
  routeTree,
  defaultNotFoundComponent: () => <Navigate to="/" replace />,
  scrollRestoration: false,
});

declare module "@tanstack/react-router" {
  interface Register {
    router: typeof router;
  }
}
