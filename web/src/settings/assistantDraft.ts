// The assistant form's state: text fields as typed, turned into the PATCH body of what changed.
import type { Assistant, AssistantUpdate } from "../api/types";

export interface Draft {
  name: string;
  instructions: string;
  language: string;
  provider: string;
  model: string;
  base_url: string;
  api_key: string;
  remove_key: boolean;
  temperature: string;
  debounce_seconds: string;
  handoff_message: string;
  enabled: boolean;
  enabled_tools: string[];
}

export function draftOf(a: Assistant): Draft {
  return {
    name: a.name, instructions: a.instructions, language: a.language, provider: a.provider, model: a.model,
    base_url: a.base_url ?? "", api_key: "", remove_key: false,
    temperature: a.temperature === null || a.temperature === undefined ? "" : String(a.temperature),
    debounce_seconds: String(a.debounce_seconds), handoff_message: a.handoff_message, enabled: a.enabled,
    enabled_tools: [...a.enabled_tools],
  };
}

/** Only what changed, as the PATCH body (the API key only when typed or removed). */
export function assistantChanges(a: Assistant, d: Draft): AssistantUpdate {
  const body: AssistantUpdate = {};
  const base = draftOf(a);
  if (d.name.trim() !== base.name) body.name = d.name.trim();
  if (d.instructions !== base.instructions) body.instructions = d.instructions;
  if (d.language !== base.language) body.language = d.language;
  if (d.provider !== base.provider) body.provider = d.provider as AssistantUpdate["provider"];
  if (d.model.trim() !== base.model) body.model = d.model.trim();
  if (d.base_url.trim() !== base.base_url) body.base_url = d.base_url.trim() || null;
  if (d.api_key.trim()) body.api_key = d.api_key.trim();
  else if (d.remove_key) body.api_key = null;
  if (d.temperature.trim() !== base.temperature) body.temperature = d.temperature.trim() === "" ? null : Number(d.temperature);
  if (d.debounce_seconds.trim() !== base.debounce_seconds) body.debounce_seconds = Number(d.debounce_seconds);
  if (d.handoff_message !== base.handoff_message) body.handoff_message = d.handoff_message;
  if (d.enabled !== base.enabled) body.enabled = d.enabled;
  if ([...d.enabled_tools].sort().join() !== [...base.enabled_tools].sort().join()) body.enabled_tools = d.enabled_tools;
  return body;
}
