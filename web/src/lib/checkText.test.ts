import { describe, expect, it } from "vitest";
import type { CheckItem } from "../api/types";
import { translator } from "../i18n";
import { checkText } from "./checkText";

const item = (code: string, params: Record<string, string>, detail = "(el servidor, en español)"): CheckItem =>
  ({ name: "phone_number", ok: true, code, params, detail });

describe("what a channel check found", () => {
  const en = translator("en");
  const es = translator("es");
  it("follows the chosen language, specifics included", () => {
    const number = item("cloud_number_ok", { number: "+34910001122", name: "Tienda Aurora", quality: "GREEN" });
    expect(checkText(number, "en", en)).toBe("The number +34910001122 (Tienda Aurora) answers; quality: high.");
    expect(checkText(number, "es", es)).toBe("El número +34910001122 (Tienda Aurora) responde; calidad: alta.");
    const unnamed = item("ycloud_number_ok", { number: "+5215512345678", name: "", quality: "UNKNOWN" });
    expect(checkText(unnamed, "en", en)).toBe(
      "The number +5215512345678 (no verified name) is connected in YCloud; quality: no data yet.");
    expect(checkText(item("credentials_missing_facebook", {}), "en", en)).toMatch(/^Credentials are missing.*page ID/);
  });
  it("says a provider's refusal as a failed delivery does: by its code, the server's words in Spanish", () => {
    const refused = item("provider_refused", { provider_code: "190", reason: "El token de acceso de WhatsApp caducó." });
    expect(checkText(refused, "en", en)).toBe(
      "The WhatsApp access token expired or is not valid: save a new one in the channel.");
    expect(checkText(refused, "es", es)).toBe("El token de acceso de WhatsApp caducó.");
  });
  it("keeps the server's words for a code it does not know yet", () => {
    expect(checkText(item("something_new", {}, "Algo nuevo."), "en", en)).toBe("Algo nuevo.");
  });
});
