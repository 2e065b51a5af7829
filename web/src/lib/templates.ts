// WhatsApp templates in the picker: what each one says and takes, its preview with the values
// filled in, the search, and the send request. Components are Meta's (YCloud lists the same):
// HEADER (TEXT with {{…}}, or a file), BODY, FOOTER, BUTTONS; parameters are positional ({{1}})
// or named ({{nombre}}).
import type { Template, TemplateButton, TemplateParameters, TemplateSendRequest } from "../api/types";

const VARIABLE = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;
export const MEDIA_HEADERS = ["image", "video", "document"] as const;
export type MediaHeader = (typeof MEDIA_HEADERS)[number];

function component(template: Template, type: string) {
  return template.components.find((c) => String(c.type).toUpperCase() === type);
}

/** The variables of a text, each once, in order (positional ones by number). */
export function variablesOf(text: string): string[] {
  const seen: string[] = [];
  for (const match of text.matchAll(VARIABLE)) if (!seen.includes(match[1])) seen.push(match[1]);
  return seen.every((v) => /^\d+$/.test(v)) ? seen.sort((a, b) => Number(a) - Number(b)) : seen;
}

/** What a send of the template takes: the server's own reading when it gives one, else the same
 * reading of the components. */
export function parametersOf(template: Template): Required<TemplateParameters> {
  const given = template.parameters;
  if (given) {
    return { format: given.format, body: given.body, header: given.header ?? null,
      header_text_parameters: given.header_text_parameters ?? [], buttons: given.buttons ?? [] };
  }
  const header = component(template, "HEADER");
  const format = String(header?.format ?? "").toLowerCase();
  const headerText = header?.text ?? "";
  const buttons: TemplateButton[] = (component(template, "BUTTONS")?.buttons ?? []).map((b, index) => {
    const type = String(b.type).toUpperCase();
    const parameter = type === "URL" && /\{\{/.test(b.url ?? "") ? "text" : type === "COPY_CODE" ? "coupon_code"
      : type === "QUICK_REPLY" ? "payload" : null;
    return { index, type, text: b.text, url: b.url ?? null, parameter };
  });
  const body = variablesOf(component(template, "BODY")?.text ?? "");
  return {
    format: template.parameter_format === "NAMED" ? "NAMED" : "POSITIONAL",
    body,
    header: format === "text" ? (variablesOf(headerText).length ? "text" : null)
      : (["image", "video", "document", "location"] as const).find((f) => f === format) ?? null,
    header_text_parameters: format === "text" ? variablesOf(headerText) : [],
    buttons,
  };
}

/** The values a person typed in the picker, by where they go. */
export interface TemplateValues {
  body: Record<string, string>;
  header: Record<string, string>;
  /** A media header's file: one of ours (/media/...) or a public https URL. */
  headerUrl: string;
  buttons: Record<number, string>;
}

export const emptyValues = (): TemplateValues => ({ body: {}, header: {}, headerUrl: "", buttons: {} });

/** A text with its variables replaced by the values given; the others stay as they are ({{2}}). */
export function fillText(text: string, values: Record<string, string>): string {
  return text.replace(VARIABLE, (whole, name: string) => (values[name]?.trim() ? values[name].trim() : whole));
}

export interface TemplatePreview {
  header: { text: string } | { media: MediaHeader | "location" } | null;
  body: string;
  footer: string;
  buttons: string[];
}

/** What the customer will receive, with the values filled in so far. */
export function previewOf(template: Template, values: TemplateValues): TemplatePreview {
  const header = component(template, "HEADER");
  const format = String(header?.format ?? "").toLowerCase();
  return {
    header: !header ? null : format === "text" || (!header.format && header.text)
      ? { text: fillText(header.text ?? "", values.header) }
      : { media: (format || "image") as MediaHeader | "location" },
    body: fillText(component(template, "BODY")?.text ?? "", values.body),
    footer: component(template, "FOOTER")?.text ?? "",
    buttons: (component(template, "BUTTONS")?.buttons ?? []).map((b) => b.text),
  };
}

/** What must still be filled in before the template can be sent (empty means ready). */
export function missingOf(template: Template, values: TemplateValues): string[] {
  const p = parametersOf(template);
  const missing = [
    ...p.body.filter((name) => !values.body[name]?.trim()).map((name) => `body.${name}`),
    ...p.header_text_parameters.filter((name) => !values.header[name]?.trim()).map((name) => `header.${name}`),
    ...p.buttons.filter((b) => (b.parameter === "text" || b.parameter === "coupon_code") && !values.buttons[b.index]?.trim())
      .map((b) => `buttons.${b.index}`),
  ];
  if (p.header && (MEDIA_HEADERS as readonly string[]).includes(p.header) && !values.headerUrl.trim()) {
    missing.push("header.url");
  }
  return missing;
}

/** `POST /admin/templates/send`: the seed's `parameters` (the body's values in order), or the
 * named ones, plus a header and the buttons that take a value. */
export function sendRequestOf(template: Template, conversationId: string, values: TemplateValues): TemplateSendRequest {
  const p = parametersOf(template);
  const named = p.format === "NAMED";
  const request: TemplateSendRequest = {
    conversation_id: conversationId,
    template_id: template.id,
    parameters: named ? [] : p.body.map((name) => values.body[name]?.trim() ?? ""),
  };
  if (named) request.named_parameters = Object.fromEntries(p.body.map((n) => [n, values.body[n]?.trim() ?? ""]));
  if (p.header === "text") {
    const first = p.header_text_parameters[0];
    request.header = { type: "text", text: first ? values.header[first]?.trim() ?? "" : "" };
  } else if (p.header && (MEDIA_HEADERS as readonly string[]).includes(p.header)) {
    request.header = { type: p.header as MediaHeader, url: values.headerUrl.trim() };
  }
  const buttons = p.buttons.filter((b) => b.parameter && values.buttons[b.index]?.trim())
    .map((b) => ({ index: b.index, parameter: values.buttons[b.index].trim() }));
  if (buttons.length) request.buttons = buttons;
  return request;
}

/** An example value for a parameter, from the template's own examples (a placeholder to type over). */
export function exampleOf(template: Template, where: "body" | "header", name: string): string | undefined {
  const c = component(template, where === "body" ? "BODY" : "HEADER");
  const example = (c?.example ?? {}) as Record<string, unknown>;
  const named = example[where === "body" ? "body_text_named_params" : "header_text_named_params"];
  if (Array.isArray(named)) {
    const hit = named.find((e) => (e as { param_name?: string }).param_name === name) as { example?: string } | undefined;
    if (hit?.example) return hit.example;
  }
  const positional = example[where === "body" ? "body_text" : "header_text"];
  const row = Array.isArray(positional) ? (Array.isArray(positional[0]) ? positional[0] : positional) : [];
  const index = Number(name) - 1;
  return Number.isInteger(index) && typeof row[index] === "string" ? (row[index] as string) : undefined;
}

function fold(text: string): string {
  return text.normalize("NFD").replace(/\p{M}/gu, "").toLocaleLowerCase();
}

/** The templates whose name, words, language or category hold every word searched, accents aside. */
export function searchTemplates(templates: Template[], q: string): Template[] {
  const words = fold(q).split(/\s+/).filter(Boolean);
  if (!words.length) return templates;
  return templates.filter((t) => {
    const haystack = fold([t.name.replace(/_/g, " "), t.language, t.category,
      ...t.components.map((c) => c.text ?? "")].join(" "));
    return words.every((w) => haystack.includes(w));
  });
}
