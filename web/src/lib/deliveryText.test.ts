import { describe, expect, it } from "vitest";
import { translator } from "../i18n";
import { deliveryText } from "./deliveryText";

describe("why a message could not go", () => {
  const en = translator("en");
  const es = translator("es");
  it("says it in English by the failure's code", () => {
    expect(deliveryText("131047", "Han pasado más de 24 horas…", "en", en)).toMatch(/^More than 24 hours/);
    expect(deliveryText("http_503", "WhatsApp tuvo un fallo pasajero", "en", en)).toContain("passing failure (503)");
    expect(deliveryText("http_400", "WhatsApp rechazó el mensaje (400).", "en", en)).toBe("The provider refused the message (400).");
    expect(deliveryText("weird_code", "algo", "en", en)).toBe("The message could not be delivered (weird_code).");
  });
  it("keeps the server's own Spanish words, specifics included", () => {
    expect(deliveryText("attachment_too_large", "El archivo pesa 20.0 MB y WhatsApp admite hasta 16 MB.", "es", es))
      .toBe("El archivo pesa 20.0 MB y WhatsApp admite hasta 16 MB.");
    expect(deliveryText("network", null, "es", es)).toBe("No se pudo contactar con el proveedor; Tertulia lo reintenta sola.");
  });
});
