// Why a message could not go, in the chosen language. The server writes its reasons in Spanish,
// the product's language, with specifics (a size, the provider's words): Spanish shows them as
// they are; other languages say the same by the failure's code (`delivery.<code>`).
import { dictionaries, type Lang, type MessageKey, type Translate } from "../i18n";

function known(key: string): key is MessageKey {
  return Object.hasOwn(dictionaries.es, key);
}

export function deliveryText(code: string | null | undefined, reason: string | null | undefined, lang: Lang,
  t: Translate): string {
  if (lang === "es" && reason) return reason;
  const key = `delivery.${code ?? ""}`;
  if (code && known(key)) return t(key);
  const http = /^http_(\d{3})$/.exec(code ?? "");
  if (http) {
    const status = Number(http[1]);
    return t(status === 429 || status >= 500 ? "delivery.http_retry" : "delivery.http_refused", { status });
  }
  return code ? t("delivery.unknown", { code }) : reason || t("status.failed");
}
