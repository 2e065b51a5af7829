// What a channel check found, in the chosen language: each item is said by its stable `code` with
// its `params` (as errors are, lib/errors.ts); the server's Spanish `detail` only for a code this
// panel does not know yet. A refusal is the provider's error, said as a failed delivery says it.
import type { CheckItem } from "../api/types";
import { dictionaries, type Lang, type MessageKey, type Translate } from "../i18n";
import { deliveryText } from "./deliveryText";

function known(key: string): key is MessageKey {
  return Object.hasOwn(dictionaries.es, key);
}

export function checkText(item: CheckItem, lang: Lang, t: Translate): string {
  const params = item.params ?? {};
  if (item.code === "provider_refused") return deliveryText(params.provider_code, params.reason ?? item.detail, lang, t);
  const key = `check.${item.code}`;
  if (!known(key)) return item.detail;
  const quality = `check.quality.${params.quality ?? "UNKNOWN"}`;
  return t(key, {
    ...params,
    name: params.name || t("check.noVerifiedName"),
    quality: known(quality) ? t(quality) : (params.quality ?? ""),
  });
}
