// The app's words through i18next: Spanish by default (the seeds' language), English selectable.
// Keys are flat ("chat.ai.banner"), placeholders are {name}; the dictionaries are typed, so a
// missing key in any language or a misspelt key in a component fails the type check.
import i18next, { type TOptions } from "i18next";
import { en } from "./en";
import { es, type MessageKey } from "./es";

export type { MessageKey } from "./es";
export type Lang = "es" | "en";
export const LANGS: Lang[] = ["es", "en"];
export const LANG_KEY = "tertulia.lang";
export const dictionaries = { es, en } as const;

declare module "i18next" {
  interface CustomTypeOptions {
    defaultNS: "translation";
    resources: { translation: typeof es };
    keySeparator: false;
    nsSeparator: false;
  }
}

/** The language chosen before (kept in the browser), else Spanish: the product's language. */
export function pickLang(stored: string | null): Lang {
  return stored === "es" || stored === "en" ? stored : "es";
}

function storedLang(): string | null {
  try {
    return typeof localStorage === "undefined" ? null : localStorage.getItem(LANG_KEY);
  } catch {
    return null;
  }
}

export const i18n = i18next.createInstance();
void i18n.init({
  lng: pickLang(storedLang()),
  fallbackLng: "es",
  supportedLngs: LANGS,
  resources: { es: { translation: es }, en: { translation: en } },
  keySeparator: false,
  nsSeparator: false,
  interpolation: { escapeValue: false, prefix: "{", suffix: "}" }, // React escapes; {name} as before
  returnNull: false,
  initAsync: false,
});

export type Vars = Record<string, string | number>;
export type Translate = (key: MessageKey, vars?: Vars) => string;

/** A translator bound to one language (for code outside components and for tests). */
export function translator(lang: Lang): Translate {
  const fixed = i18n.getFixedT(lang);
  return (key, vars) => fixed(key, vars as TOptions) as string;
}

/** Change the language for the whole app and remember it in this browser. */
export function setLanguage(lang: Lang): void {
  try {
    localStorage.setItem(LANG_KEY, lang);
  } catch {
    // private mode: the choice lasts for this page only
  }
  void i18n.changeLanguage(lang);
}

/** A capital first letter, as Spanish and English write a label that starts a line. */
export function capitalize(text: string, lang: Lang): string {
  return text ? text.charAt(0).toLocaleUpperCase(lang) + text.slice(1) : text;
}
