import { describe, expect, it } from "vitest";
import { dictionaries, pickLang, translator } from ".";

describe("i18n", () => {
  it("speaks Spanish by default and English when chosen", () => {
    expect(pickLang(null)).toBe("es");
    expect(pickLang("en")).toBe("en");
    expect(pickLang("fr")).toBe("es");
    expect(translator("es")("chat.ai.takeOver")).toBe("Intervenir");
    expect(translator("en")("chat.ai.takeOver")).toBe("Take over");
  });
  it("has the state banner's words of the seed", () => {
    const t = translator("es");
    expect(`${t("chat.ai.banner")} · ${t("chat.ai.takeOver")}`).toBe("La IA está respondiendo · Intervenir");
    expect(`${t("chat.human.banner")} · ${t("chat.human.handBack")}`).toBe("Tú tienes el control · Devolver a la IA");
  });
  it("fills placeholders and leaves unknown ones alone", () => {
    expect(translator("es")("list.unread", { n: 3 })).toBe("3 sin leer");
    expect(translator("en")("tags.remove", { name: "VIP" })).toBe("Remove tag VIP");
    expect(translator("en")("tags.remove")).toBe("Remove tag {name}");
  });
  it("translates every key into English, with the same placeholders", () => {
    for (const [key, es] of Object.entries(dictionaries.es)) {
      const en = dictionaries.en[key as keyof typeof dictionaries.en];
      expect(en, key).toBeTruthy();
      const vars = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      expect(vars(en), key).toEqual(vars(es));
    }
  });
});
