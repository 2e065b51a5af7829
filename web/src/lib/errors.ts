// Every error the user reads, in the chosen language: server errors are mapped by their stable
// `code` (and field errors by their `type`, with the limits in `ctx`); the server's own English
// message is never shown. This is the one way errors are said, everywhere in the app.
import { ApiError, type FieldError } from "../api/client";
import { dictionaries, type MessageKey, type Translate } from "../i18n";

function isKey(key: string): key is MessageKey {
  return Object.hasOwn(dictionaries.es, key);
}

/** One field's error ("At most 200 characters."). */
export function fieldText(detail: FieldError, t: Translate): string {
  const key = `validation.${detail.type ?? ""}`;
  if (!isKey(key)) return t("validation.invalid");
  const vars: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(detail.ctx ?? {})) vars[name] = String(value);
  return t(key, vars);
}

/** What went wrong, in a sentence: the error's own words for its code, else a general one. */
export function errorText(err: unknown, t: Translate): string {
  if (err instanceof ApiError) {
    if (err.details.length > 0 && (err.code === "validation_error" || err.status === 422)) {
      return fieldText(err.details[0], t);
    }
    const key = `error.${err.code}`;
    return isKey(key) ? t(key) : t("error.unknown", { code: err.code });
  }
  return t("error.unknown", { code: err instanceof Error ? err.name : "error" });
}

/** The field errors of a failed request, by field name (the last part of its path). */
export function fieldErrors(err: unknown, t: Translate): Record<string, string> {
  if (!(err instanceof ApiError)) return {};
  const out: Record<string, string> = {};
  for (const detail of err.details) {
    const name = detail.field.split(".").at(-1) ?? detail.field;
    out[name] ??= fieldText(detail, t);
  }
  return out;
}

/** The error to show apart from the fields a form marks in place (null when they say it all). */
export function formErrorText(err: unknown, t: Translate, fields: readonly string[]): string | null {
  if (!err) return null;
  const marked = fieldErrors(err, t);
  if (fields.some((f) => f in marked)) return null;
  return errorText(err, t);
}
