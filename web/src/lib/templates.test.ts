import { describe, expect, it } from "vitest";
import type { Template } from "../api/types";
import {
  emptyValues, exampleOf, fillText, missingOf, parametersOf, previewOf, searchTemplates, sendRequestOf, variablesOf,
} from "./templates";

// The sandbox's templates, as the server lists them (Meta's components).
const reminder: Template = {
  id: "t-1", channel_id: "ch", name: "recordatorio_cita", language: "es", status: "APPROVED", category: "UTILITY",
  parameter_format: "POSITIONAL", components: [
    { type: "BODY", text: "Hola {{1}}, te recordamos tu cita del {{2}}. ¿Nos confirmas?",
      example: { body_text: [["Lucía", "martes a las 10:00"]] } },
    { type: "BUTTONS", buttons: [{ type: "QUICK_REPLY", text: "Confirmar" }, { type: "QUICK_REPLY", text: "Cambiar la cita" }] },
  ],
};
const offer: Template = {
  id: "t-2", channel_id: "ch", name: "oferta_temporada", language: "es", status: "APPROVED", category: "MARKETING",
  parameter_format: "NAMED", components: [
    { type: "HEADER", format: "IMAGE", example: { header_handle: ["4::x"] } },
    { type: "BODY", text: "¡Hola {{nombre}}! Esta semana tienes un {{descuento}} de descuento en toda la tienda.",
      example: { body_text_named_params: [{ param_name: "nombre", example: "Lucía" }, { param_name: "descuento", example: "20 %" }] } },
    { type: "FOOTER", text: "Responde BAJA para no recibir ofertas" },
    { type: "BUTTONS", buttons: [{ type: "URL", text: "Ver ofertas", url: "https://tienda.example/ofertas/{{1}}" }] },
  ],
};
const hello: Template = {
  id: "t-3", channel_id: "ch", name: "hello_world", language: "en_US", status: "APPROVED", category: "UTILITY",
  parameter_format: "POSITIONAL", components: [
    { type: "HEADER", format: "TEXT", text: "Hello World" },
    { type: "BODY", text: "Welcome and congratulations!!" },
    { type: "FOOTER", text: "WhatsApp Business Platform sample message" },
  ],
};

describe("what a template takes", () => {
  it("reads its variables in order, each once", () => {
    expect(variablesOf("{{2}} y {{1}} y {{10}} y {{1}}")).toEqual(["1", "2", "10"]);
    expect(variablesOf("Hola {{ nombre }}, {{descuento}}")).toEqual(["nombre", "descuento"]);
  });

  it("reads body, header and buttons from the components as the server does", () => {
    expect(parametersOf(reminder)).toEqual({ format: "POSITIONAL", body: ["1", "2"], header: null,
      header_text_parameters: [], buttons: [
        { index: 0, type: "QUICK_REPLY", text: "Confirmar", url: null, parameter: "payload" },
        { index: 1, type: "QUICK_REPLY", text: "Cambiar la cita", url: null, parameter: "payload" }] });
    expect(parametersOf(offer)).toMatchObject({ format: "NAMED", body: ["nombre", "descuento"], header: "image",
      buttons: [{ index: 0, type: "URL", parameter: "text" }] });
    expect(parametersOf(hello)).toMatchObject({ body: [], header: null, header_text_parameters: [] });
  });

  it("prefers the server's own reading when it gives one", () => {
    const given = { ...reminder, parameters: { format: "POSITIONAL" as const, body: ["1"], header: null } };
    expect(parametersOf(given)).toEqual({ format: "POSITIONAL", body: ["1"], header: null, header_text_parameters: [],
      buttons: [] });
  });

  it("offers the template's own examples as placeholders", () => {
    expect(exampleOf(reminder, "body", "2")).toBe("martes a las 10:00");
    expect(exampleOf(offer, "body", "descuento")).toBe("20 %");
    expect(exampleOf(hello, "body", "1")).toBeUndefined();
  });
});

describe("the preview", () => {
  it("fills in what was typed and leaves the rest as placeholders", () => {
    expect(fillText("Hola {{1}}, tu cita del {{2}}", { "1": "Lucía", "2": "  " })).toBe("Hola Lucía, tu cita del {{2}}");
    const values = { ...emptyValues(), body: { nombre: "Lucía", descuento: "20 %" } };
    expect(previewOf(offer, values)).toEqual({ header: { media: "image" },
      body: "¡Hola Lucía! Esta semana tienes un 20 % de descuento en toda la tienda.",
      footer: "Responde BAJA para no recibir ofertas", buttons: ["Ver ofertas"] });
    expect(previewOf(hello, emptyValues()).header).toEqual({ text: "Hello World" });
  });
});

describe("sending", () => {
  it("says what is still missing", () => {
    expect(missingOf(reminder, emptyValues())).toEqual(["body.1", "body.2"]);
    expect(missingOf(offer, { ...emptyValues(), body: { nombre: "Lucía" } }))
      .toEqual(["body.descuento", "buttons.0", "header.url"]);
    expect(missingOf(hello, emptyValues())).toEqual([]);
  });

  it("sends the seed's positional parameters in order", () => {
    expect(sendRequestOf(reminder, "conv-1", { ...emptyValues(), body: { "2": " martes ", "1": "Lucía" } }))
      .toEqual({ conversation_id: "conv-1", template_id: "t-1", parameters: ["Lucía", "martes"] });
  });

  it("sends named parameters, a media header and a button's value", () => {
    expect(sendRequestOf(offer, "conv-1", { body: { nombre: "Lucía", descuento: "20 %" }, header: {},
      headerUrl: "/media/t/oferta.png", buttons: { 0: "primavera" } })).toEqual({
      conversation_id: "conv-1", template_id: "t-2", parameters: [],
      named_parameters: { nombre: "Lucía", descuento: "20 %" },
      header: { type: "image", url: "/media/t/oferta.png" }, buttons: [{ index: 0, parameter: "primavera" }] });
  });
});

describe("search", () => {
  const all = [reminder, offer, hello];
  it("finds by name, words of the body (accents aside), language or category", () => {
    expect(searchTemplates(all, "").map((t) => t.id)).toEqual(["t-1", "t-2", "t-3"]);
    expect(searchTemplates(all, "cita").map((t) => t.id)).toEqual(["t-1"]);
    expect(searchTemplates(all, "oferta temporada").map((t) => t.id)).toEqual(["t-2"]);
    expect(searchTemplates(all, "DESCUENTO tienda").map((t) => t.id)).toEqual(["t-2"]);
    expect(searchTemplates(all, "marketing").map((t) => t.id)).toEqual(["t-2"]);
    expect(searchTemplates(all, "en_us").map((t) => t.id)).toEqual(["t-3"]);
    expect(searchTemplates(all, "¿nos confirmas").map((t) => t.id)).toEqual(["t-1"]);
    expect(searchTemplates(all, "nada así")).toEqual([]);
  });
});
