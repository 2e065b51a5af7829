import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { I18nextProvider, useTranslation } from "react-i18next";
import { i18n, pickLang, setLanguage, type Lang, type Translate, type Vars } from "../i18n";
import type { SocketState } from "./socket";

export function I18nProvider({ children }: { children: ReactNode }) {
  useEffect(() => {
    const sync = (lng: string) => { document.documentElement.lang = lng; };
    sync(i18n.language);
    i18n.on("languageChanged", sync);
    return () => i18n.off("languageChanged", sync);
  }, []);
  return <I18nextProvider i18n={i18n}>{children}</I18nextProvider>;
}

interface I18n {
  lang: Lang;
  setLang: (lang: Lang) => void;
  t: Translate;
}

/** The chosen language and its translator (re-renders the component when the language changes). */
export function useI18n(): I18n {
  const { t, i18n: instance } = useTranslation();
  const lang = pickLang(instance.language);
  return useMemo(() => ({
    lang,
    setLang: setLanguage,
    t: ((key, vars?: Vars) => t(key, vars ?? {})) as Translate,
  }), [lang, t]);
}

export const LiveContext = createContext<SocketState>("connecting");
export const useLiveState = (): SocketState => useContext(LiveContext);

/** The current time, refreshed every `ms` (dates like "10:42" and online dots age while on screen). */
export function useNow(ms = 30_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(id);
  }, [ms]);
  return now;
}

/** Whether the tab is being looked at (a chat open in a hidden tab is not "read"). */
export function useDocumentVisible(): boolean {
  const [visible, setVisible] = useState(() => document.visibilityState === "visible");
  useEffect(() => {
    const update = () => setVisible(document.visibilityState === "visible");
    document.addEventListener("visibilitychange", update);
    return () => document.removeEventListener("visibilitychange", update);
  }, []);
  return visible;
}

/** Whether a CSS media query matches now (the layout decides between columns and drawers). */
export function useMediaQuery(query: string): boolean {
  const [matches, setMatches] = useState(() => window.matchMedia(query).matches);
  useEffect(() => {
    const list = window.matchMedia(query);
    const update = () => setMatches(list.matches);
    update();
    list.addEventListener("change", update);
    return () => list.removeEventListener("change", update);
  }, [query]);
  return matches;
}
