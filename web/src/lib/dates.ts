// Dates as the inbox shows them, through Intl in the chosen language.
import { capitalize, type Lang } from "../i18n";

const locales: Record<Lang, string> = { es: "es-ES", en: "en-GB" };

function sameDay(a: Date, b: Date): boolean {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

export function formatTime(iso: string, lang: Lang, timeZone?: string): string {
  return new Intl.DateTimeFormat(locales[lang], { hour: "2-digit", minute: "2-digit", timeZone }).format(new Date(iso));
}

/** The list's date: the time for today, otherwise day and month (the seed's "solo día y mes"). */
export function formatListDate(iso: string, lang: Lang, now: Date = new Date(), timeZone?: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  if (timeZone === undefined && sameDay(date, now)) return formatTime(iso, lang);
  if (timeZone !== undefined) {
    const day = (d: Date) => new Intl.DateTimeFormat("en-CA", { timeZone, dateStyle: "short" }).format(d);
    if (day(date) === day(now)) return formatTime(iso, lang, timeZone);
  }
  return new Intl.DateTimeFormat(locales[lang], { day: "numeric", month: "short", timeZone }).format(date);
}

/** The chat's day separators: "Hoy", "Ayer", or the full date as a label ("Martes, 10 de marzo"). */
export function formatDayLabel(iso: string, lang: Lang, labels: { today: string; yesterday: string },
  now: Date = new Date()): string {
  const date = new Date(iso);
  if (sameDay(date, now)) return labels.today;
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (sameDay(date, yesterday)) return labels.yesterday;
  const options: Intl.DateTimeFormatOptions = { weekday: "long", day: "numeric", month: "long" };
  if (date.getFullYear() !== now.getFullYear()) options.year = "numeric";
  // Only the first letter: "Martes, 10 de marzo" (Spanish writes weekdays and months in lower case).
  return capitalize(new Intl.DateTimeFormat(locales[lang], options).format(date), lang);
}

/** A key that changes when the local calendar day changes (for grouping messages by day). */
export function dayKey(iso: string): string {
  const d = new Date(iso);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

export function formatRelative(iso: string, lang: Lang, now: Date = new Date()): string {
  const seconds = Math.round((new Date(iso).getTime() - now.getTime()) / 1000);
  const rtf = new Intl.RelativeTimeFormat(locales[lang], { numeric: "auto" });
  const abs = Math.abs(seconds);
  if (abs < 60) return rtf.format(seconds, "second");
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return rtf.format(Math.round(seconds / 3600), "hour");
  return rtf.format(Math.round(seconds / 86400), "day");
}

export const ONLINE_WINDOW_MS = 5 * 60 * 1000;

/** Seed 001: a contact active in the last five minutes is online. */
export function isOnline(lastActivity: Array<string | null | undefined>, now: number = Date.now()): boolean {
  return lastActivity.some((iso) => {
    if (!iso) return false;
    const diff = now - new Date(iso).getTime();
    return diff >= -60_000 && diff < ONLINE_WINDOW_MS;
  });
}
