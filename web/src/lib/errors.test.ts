import { describe, expect, it } from "vitest";
import { ApiError } from "../api/client";
import { translator } from "../i18n";
import { errorText, fieldErrors, formErrorText } from "./errors";

const es = translator("es");
const en = translator("en");

describe("errorText", () => {
  it("says a domain error by its code, in the chosen language", () => {
    const err = new ApiError(409, "last_owner", "a tenant keeps at least one owner");
    expect(errorText(err, es)).toBe("Un negocio necesita al menos un propietario: nombra antes a otro propietario.");
    expect(errorText(err, en)).toBe("A business needs at least one owner: make someone else an owner first.");
  });
  it("never shows the server's English for a code it does not know", () => {
    const err = new ApiError(418, "teapot_mode", "I am a teapot");
    expect(errorText(err, es)).toBe("Algo salió mal (teapot_mode). Inténtalo de nuevo.");
    expect(errorText(new TypeError("boom"), en)).toBe("Something went wrong (TypeError). Try again.");
  });
  it("says a validation error through its first field, with the server's limits", () => {
    const err = new ApiError(422, "validation_error", "name: String should have at most 200 characters", [
      { field: "name", message: "String should have at most 200 characters", type: "string_too_long", ctx: { max_length: 200 } },
    ]);
    expect(errorText(err, es)).toBe("Como máximo 200 caracteres.");
    expect(errorText(err, en)).toBe("At most 200 characters.");
  });
});

describe("fieldErrors", () => {
  const err = new ApiError(422, "validation_error", "…", [
    { field: "phone", message: "the phone number must be in E.164 form", type: "phone_format" },
    { field: "query.limit", message: "≤ 10", type: "less_than_equal", ctx: { le: 10 } },
    { field: "notes", message: "weird", type: "some_new_type" },
  ]);
  it("maps each field (the last part of its path) to its message", () => {
    expect(fieldErrors(err, es)).toEqual({
      phone: "Usa el formato internacional E.164, p. ej. +525512345678.",
      limit: "Debe ser 10 o menos.",
      notes: "Valor no válido.",
    });
  });
  it("leaves the form's general error out when a field already says it", () => {
    expect(formErrorText(err, es, ["phone"])).toBeNull();
    expect(formErrorText(err, es, ["email"])).toBe("Usa el formato internacional E.164, p. ej. +525512345678.");
    expect(formErrorText(null, es, ["email"])).toBeNull();
    expect(fieldErrors(new Error("x"), es)).toEqual({});
  });
});
