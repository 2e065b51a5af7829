// The connect form of a channel kind, read from the JSON Schema of its credentials that the API
// gives (`GET /admin/channels/kinds`): a new kind on the server is a new form here with no code,
// and only its labels go into the i18n dictionaries.
import type { Channel } from "../api/types";

export interface CredentialField {
  name: string;
  required: boolean;
  /** A secret is typed hidden (`format: password` in the schema); ids and numbers are shown. */
  secret: boolean;
  pattern?: string;
  /** The schema's own title ("Phone Number Id"), for a field the dictionaries do not name yet. */
  title: string;
}

interface PropertySchema {
  type?: string;
  format?: string;
  pattern?: string;
  title?: string;
  anyOf?: PropertySchema[];
}

/** The fields of a kind's credentials, in the schema's order. */
export function credentialFields(schema: Record<string, unknown> | undefined): CredentialField[] {
  const properties = (schema?.properties ?? {}) as Record<string, PropertySchema>;
  const required = new Set(Array.isArray(schema?.required) ? (schema.required as string[]) : []);
  return Object.entries(properties).map(([name, prop]) => {
    // An optional field is `anyOf: [{string...}, {null}]`: its string branch says what it takes.
    const value = prop.anyOf?.find((p) => p.type === "string") ?? prop;
    return {
      name, required: required.has(name), secret: value.format === "password",
      ...(value.pattern ? { pattern: value.pattern } : {}), title: prop.title ?? name,
    };
  });
}

/** What to send of what was typed: trimmed, the empty ones left out (on a channel that already
 * has credentials, an empty field keeps the stored value). */
export function credentialsToSend(fields: CredentialField[], values: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fields) {
    const value = values[f.name]?.trim();
    if (value) out[f.name] = value;
  }
  return out;
}

/** The required fields still empty: a new channel needs them all; a stored one already has them. */
export function missingFields(fields: CredentialField[], values: Record<string, string>,
                              stored: readonly string[] = []): string[] {
  return fields.filter((f) => f.required && !values[f.name]?.trim() && !stored.includes(f.name)).map((f) => f.name);
}

export type HealthLevel = "ok" | "warning" | "problem";

/** How a channel is doing, at a glance: a problem when its provider refused the credentials or
 * deliveries fail; a warning when webhooks fail or it is disabled. */
export function healthLevel(channel: Channel): HealthLevel {
  if (channel.status === "attention" || channel.health.deliveries_failing > 0) return "problem";
  if (channel.health.webhooks_failed > 0 || !channel.enabled) return "warning";
  return "ok";
}
