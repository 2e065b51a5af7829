import { useEffect, useRef, useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, keys } from "../api/endpoints";
import type { Assistant, McpServer, TryMessage, TryResult } from "../api/types";
import { TraceBody } from "../components/TraceDialog";
import { SendIcon, TrashIcon } from "../components/icons";
import type { MessageKey } from "../i18n";
import { useI18n } from "../lib/context";
import { errorText, fieldErrors, formErrorText } from "../lib/errors";
import { assistantChanges, draftOf, type Draft } from "./assistantDraft";
import { ConfirmButton, ErrorNote, Field } from "./form";

const LANGUAGES = [["es", "Español"], ["en", "English"], ["pt", "Português"], ["fr", "Français"], ["it", "Italiano"],
  ["de", "Deutsch"], ["ca", "Català"]] as const;
const PROVIDERS = ["offline", "openai", "anthropic"] as const;
const BUILTIN_TOOLS = ["search_knowledge", "handoff_to_human", "add_tag", "remove_tag", "update_contact"] as const;
const MCP_TOOLS = "mcp__*";

export function AssistantSettings() {
  const { t } = useI18n();
  const assistants = useQuery({ queryKey: keys.assistants, queryFn: api.assistants });
  const [selected, setSelected] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const list = assistants.data ?? [];
  const current = list.find((a) => a.id === selected) ?? list[0];

  if (assistants.isPending) return <p role="status">{t("common.loading")}</p>;
  if (assistants.isError) return <ErrorNote text={errorText(assistants.error, t)} />;
  return (
    <div className="settings-stack">
      <section className="settings-card" aria-labelledby="assistant-title">
        <div className="settings-head">
          <h2 id="assistant-title">{t("assistant.title")}</h2>
          {list.length > 1 && (
            <select aria-label={t("assistant.pick")} value={current?.id} onChange={(e) => setSelected(e.target.value)}>
              {list.map((a) => <option key={a.id} value={a.id}>{a.name}</option>)}
            </select>
          )}
          {list.length > 0 && !creating && (
            <button type="button" className="btn btn-sm" onClick={() => setCreating(true)}>{t("assistant.new")}</button>
          )}
        </div>
        {list.length === 0 && <p className="muted">{t("assistant.none")}</p>}
        {(creating || list.length === 0) && (
          <CreateAssistant onCreated={(a) => { setSelected(a.id); setCreating(false); }}
            onCancel={list.length > 0 ? () => setCreating(false) : undefined} />
        )}
        {current && !creating && <AssistantForm key={current.id} assistant={current} />}
      </section>
      {current && !creating && <TryIt key={current.id} assistant={current} />}
      <McpServers />
    </div>
  );
}

function CreateAssistant({ onCreated, onCancel }: { onCreated: (a: Assistant) => void; onCancel?: () => void }) {
  const { t, lang } = useI18n();
  const client = useQueryClient();
  const [name, setName] = useState(t("assistant.defaultName"));
  const create = useMutation({
    mutationFn: () => api.createAssistant({ name: name.trim(), language: lang, provider: "offline" }),
    onSuccess: async (assistant) => {
      await client.invalidateQueries({ queryKey: keys.assistants });
      onCreated(assistant);
    },
  });
  const errors = fieldErrors(create.error, t);
  return (
    <form className="inline-form" onSubmit={(e) => { e.preventDefault(); create.mutate(); }} aria-label={t("assistant.new")}>
      <Field label={t("assistant.name")} error={errors.name}>
        <input value={name} onChange={(e) => setName(e.target.value)} maxLength={200} required />
      </Field>
      <div className="form-actions">
        {onCancel && <button type="button" className="btn" onClick={onCancel}>{t("common.cancel")}</button>}
        <button type="submit" className="btn btn-primary" disabled={!name.trim() || create.isPending}>
          {t("assistant.create")}
        </button>
      </div>
      <ErrorNote text={formErrorText(create.error, t, ["name"])} />
    </form>
  );
}

function AssistantForm({ assistant }: { assistant: Assistant }) {
  const { t } = useI18n();
  const client = useQueryClient();
  const [draft, setDraft] = useState<Draft>(() => draftOf(assistant));
  const [saved, setSaved] = useState(false);
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => {
    setSaved(false);
    setDraft((d) => ({ ...d, [key]: value }));
  };
  const changes = assistantChanges(assistant, draft);
  const dirty = Object.keys(changes).length > 0;
  const save = useMutation({
    mutationFn: () => api.updateAssistant(assistant.id, changes),
    onSuccess: (next) => {
      client.setQueryData<Assistant[]>(keys.assistants, (list) => list?.map((a) => (a.id === next.id ? next : a)));
      setDraft(draftOf(next)); // what the server kept (a typed key is now "stored")
      setSaved(true);
    },
  });
  const remove = useMutation({
    mutationFn: () => api.deleteAssistant(assistant.id),
    onSuccess: () => client.invalidateQueries({ queryKey: keys.assistants }),
  });
  const errors = fieldErrors(save.error, t);
  const network = draft.provider !== "offline";
  const toggleTool = (name: string, on: boolean) =>
    set("enabled_tools", on ? [...draft.enabled_tools, name] : draft.enabled_tools.filter((x) => x !== name));
  const fields = ["name", "instructions", "language", "provider", "model", "base_url", "api_key", "temperature",
    "debounce_seconds", "handoff_message", "enabled_tools"];

  function submit(e: FormEvent) {
    e.preventDefault();
    if (dirty) save.mutate();
  }

  return (
    <form className="assistant-form" onSubmit={submit} noValidate aria-label={t("assistant.title")}>
      <p className="muted small">
        {t("assistant.usage", { channels: assistant.channel_ids.length, knowledge: assistant.knowledge_count })}
      </p>
      <div className="form-grid">
        <Field label={t("assistant.name")} error={errors.name}>
          <input value={draft.name} onChange={(e) => set("name", e.target.value)} maxLength={200} />
        </Field>
        <Field label={t("assistant.language")} error={errors.language}>
          <select value={draft.language} onChange={(e) => set("language", e.target.value)}>
            {!LANGUAGES.some(([code]) => code === draft.language) && <option value={draft.language}>{draft.language}</option>}
            {LANGUAGES.map(([code, name]) => <option key={code} value={code}>{name}</option>)}
          </select>
        </Field>
      </div>
      <Field label={t("assistant.instructions")} hint={t("assistant.instructionsHint")} error={errors.instructions}>
        <textarea rows={5} value={draft.instructions} onChange={(e) => set("instructions", e.target.value)} maxLength={20000} />
      </Field>
      <Field label={t("assistant.provider")} error={errors.provider}>
        <select value={draft.provider} onChange={(e) => set("provider", e.target.value)}>
          {PROVIDERS.map((p) => <option key={p} value={p}>{t(`provider.${p}` as MessageKey)}</option>)}
        </select>
      </Field>
      {network && (
        <fieldset className="provider-box">
          <div className="form-grid">
            <Field label={t("assistant.model")} hint={t("assistant.modelHint")} error={errors.model}>
              <input value={draft.model} onChange={(e) => set("model", e.target.value)} maxLength={200} />
            </Field>
            <Field label={t("assistant.baseUrl")} hint={t("assistant.baseUrlHint")} error={errors.base_url}>
              <input value={draft.base_url} onChange={(e) => set("base_url", e.target.value)} inputMode="url"
                placeholder={draft.provider === "openai" ? "https://api.openai.com/v1" : "https://api.anthropic.com"} />
            </Field>
          </div>
          <Field label={t("assistant.apiKey")} error={errors.api_key}
            hint={draft.remove_key ? t("assistant.apiKeyWillRemove")
              : assistant.has_api_key ? t("assistant.apiKeySet") : t("assistant.apiKeyUnset")}>
            <input type="password" autoComplete="off" value={draft.api_key} maxLength={1000}
              onChange={(e) => { set("api_key", e.target.value); set("remove_key", false); }}
              placeholder={assistant.has_api_key ? "••••••••" : ""} />
          </Field>
          {assistant.has_api_key && (
            <button type="button" className="link" onClick={() => { set("remove_key", !draft.remove_key); set("api_key", ""); }}>
              {draft.remove_key ? t("assistant.apiKeyKeep") : t("assistant.apiKeyRemove")}
            </button>
          )}
        </fieldset>
      )}
      <div className="form-grid">
        <Field label={t("assistant.temperature")} hint={t("assistant.temperatureHint")} error={errors.temperature}>
          <input type="number" min={0} max={2} step={0.1} value={draft.temperature}
            onChange={(e) => set("temperature", e.target.value)} />
        </Field>
        <Field label={t("assistant.debounce")} hint={t("assistant.debounceHint")} error={errors.debounce_seconds}>
          <input type="number" min={0} max={120} step={0.5} value={draft.debounce_seconds}
            onChange={(e) => set("debounce_seconds", e.target.value)} />
        </Field>
      </div>
      <Field label={t("assistant.handoff")} error={errors.handoff_message}>
        <textarea rows={2} value={draft.handoff_message} onChange={(e) => set("handoff_message", e.target.value)} maxLength={2000} />
      </Field>
      <fieldset className="checks">
        <legend>{t("assistant.tools")}</legend>
        {BUILTIN_TOOLS.map((name) => (
          <label key={name} className="check">
            <input type="checkbox" checked={draft.enabled_tools.includes(name)}
              onChange={(e) => toggleTool(name, e.target.checked)} />
            {t(`tool.${name}` as MessageKey)}
          </label>
        ))}
        <label className="check">
          <input type="checkbox" checked={draft.enabled_tools.some((x) => x.startsWith("mcp__"))}
            onChange={(e) => set("enabled_tools", e.target.checked ? [...draft.enabled_tools, MCP_TOOLS]
              : draft.enabled_tools.filter((x) => !x.startsWith("mcp__")))} />
          {t("tool.mcp")}
        </label>
        {errors.enabled_tools && <span className="field-error" role="alert">{errors.enabled_tools}</span>}
      </fieldset>
      <label className="check">
        <input type="checkbox" checked={draft.enabled} onChange={(e) => set("enabled", e.target.checked)} />
        {t("assistant.enabled")}
      </label>
      <ErrorNote text={formErrorText(save.error, t, fields)} />
      <ErrorNote text={remove.error ? errorText(remove.error, t) : null} />
      <div className="form-actions">
        <ConfirmButton label={t("assistant.delete")} title={t("assistant.delete")} className="btn btn-sm btn-quiet-danger"
          message={t("assistant.confirmDelete", { name: assistant.name })} confirmLabel={t("assistant.delete")}
          onConfirm={() => remove.mutate()} />
        <span className="spacer" />
        {saved && !dirty && <span className="saved" role="status">{t("common.saved")}</span>}
        <button type="submit" className="btn btn-primary" disabled={!dirty || save.isPending}>
          {save.isPending ? t("common.saving") : t("common.save")}
        </button>
      </div>
    </form>
  );
}

interface TryTurn {
  message: TryMessage;
  result?: TryResult;
}

function TryIt({ assistant }: { assistant: Assistant }) {
  const { t } = useI18n();
  const [turns, setTurns] = useState<TryTurn[]>([]);
  const [text, setText] = useState("");
  const [openTrace, setOpenTrace] = useState<number | null>(null);
  const log = useRef<HTMLOListElement>(null);
  const run = useMutation({
    mutationFn: (messages: TryMessage[]) => api.tryAssistant(assistant.id, messages),
    onSuccess: (result, messages) => {
      // The trace goes with the reply; a handoff (no reply) shows it under the customer's message.
      setTurns((current) => {
        const next = [...current];
        if (result.outcome === "sent") next.push({ message: { role: "assistant", content: result.reply }, result });
        else next[messages.length - 1] = { ...next[messages.length - 1], result };
        return next;
      });
    },
  });
  useEffect(() => {
    log.current?.lastElementChild?.scrollIntoView({ block: "nearest" });
  }, [turns, run.isPending]);

  function send(e: FormEvent) {
    e.preventDefault();
    const content = text.trim();
    if (!content || run.isPending) return;
    const next = [...turns, { message: { role: "user" as const, content } }];
    setTurns(next);
    setText("");
    run.mutate(next.map((x) => x.message));
  }

  return (
    <section className="settings-card try" aria-labelledby="try-title">
      <div className="settings-head">
        <h2 id="try-title">{t("try.title")}</h2>
        <button type="button" className="btn btn-sm" onClick={() => { setTurns([]); setOpenTrace(null); run.reset(); }}
          disabled={turns.length === 0}>
          {t("try.reset")}
        </button>
      </div>
      <p className="muted small">{t("try.hint")}</p>
      <ol className="try-log" ref={log} aria-label={t("try.title")} aria-live="polite">
        {turns.length === 0 && <li className="muted small">{t("try.empty")}</li>}
        {turns.map((turn, i) => (
          <li key={i} className={`try-turn try-${turn.message.role}`}>
            <div className={`bubble ${turn.message.role === "user" ? "bubble-contact" : "bubble-ai"}`}>
              <header className="bubble-author">{turn.message.role === "user" ? t("try.you") : assistant.name}</header>
              <p className="bubble-text">{turn.message.content}</p>
            </div>
            {turn.result?.outcome === "handoff" && (
              <div className="try-handoff" role="note">
                <p>{t("try.handoff", { reason: turn.result.handoff_reason ?? "" })}</p>
                {turn.result.handoff_message && <p className="muted small">{t("try.customerReads", { message: turn.result.handoff_message })}</p>}
              </div>
            )}
            {turn.result && (
              <button type="button" className="link small" aria-expanded={openTrace === i}
                onClick={() => setOpenTrace(openTrace === i ? null : i)}>
                {openTrace === i ? t("try.hideTrace") : t("try.showTrace")}
              </button>
            )}
            {turn.result && openTrace === i && <div className="try-trace"><TraceBody trace={turn.result.trace} /></div>}
          </li>
        ))}
        {run.isPending && <li className="muted small" role="status">{t("try.thinking")}</li>}
      </ol>
      <ErrorNote text={run.error ? errorText(run.error, t) : null} />
      <form className="try-compose" onSubmit={send}>
        <input aria-label={t("try.placeholder")} placeholder={t("try.placeholder")} value={text} maxLength={4000}
          onChange={(e) => setText(e.target.value)} />
        <button type="submit" className="send-btn" aria-label={t("try.send")} title={t("try.send")}
          disabled={!text.trim() || run.isPending}>
          <SendIcon width={18} height={18} />
        </button>
      </form>
    </section>
  );
}

function McpServers() {
  const { t } = useI18n();
  const client = useQueryClient();
  const servers = useQuery({ queryKey: keys.mcpServers, queryFn: api.mcpServers });
  const [name, setName] = useState("");
  const [url, setUrl] = useState("");
  const [auth, setAuth] = useState("");
  const add = useMutation({
    mutationFn: () => api.addMcpServer({ name: name.trim(), url: url.trim(), transport: "http",
      headers: auth.trim() ? { Authorization: auth.trim() } : {} }),
    onSuccess: async () => {
      setName("");
      setUrl("");
      setAuth("");
      await client.invalidateQueries({ queryKey: keys.mcpServers });
    },
  });
  const errors = fieldErrors(add.error, t);
  return (
    <section className="settings-card" aria-labelledby="mcp-title">
      <h2 id="mcp-title">{t("mcp.title")}</h2>
      <p className="muted small">{t("mcp.hint")}</p>
      {servers.isError && <ErrorNote text={errorText(servers.error, t)} />}
      {servers.data?.length === 0 && <p className="muted">{t("mcp.none")}</p>}
      <ul className="rows">
        {servers.data?.map((s) => <McpServerRow key={s.id} server={s} />)}
      </ul>
      <form className="inline-form" onSubmit={(e) => { e.preventDefault(); add.mutate(); }} aria-label={t("mcp.add")}>
        <div className="form-grid">
          <Field label={t("mcp.name")} hint={t("mcp.nameHint")} error={errors.name}>
            <input value={name} onChange={(e) => setName(e.target.value)} maxLength={32} />
          </Field>
          <Field label={t("mcp.url")} error={errors.url}>
            <input value={url} onChange={(e) => setUrl(e.target.value)} inputMode="url" placeholder="https://…/mcp" />
          </Field>
        </div>
        <Field label={t("mcp.auth")} hint={t("mcp.authHint")} error={errors.headers}>
          <input type="password" autoComplete="off" value={auth} onChange={(e) => setAuth(e.target.value)} placeholder="Bearer …" />
        </Field>
        <ErrorNote text={formErrorText(add.error, t, ["name", "url", "headers"])} />
        <div className="form-actions">
          <button type="submit" className="btn btn-primary btn-sm" disabled={!name.trim() || !url.trim() || add.isPending}>
            {t("mcp.add")}
          </button>
        </div>
      </form>
    </section>
  );
}

function McpServerRow({ server }: { server: McpServer }) {
  const { t } = useI18n();
  const client = useQueryClient();
  const [showTools, setShowTools] = useState(false);
  const tools = useQuery({ queryKey: keys.mcpTools(server.id), queryFn: () => api.mcpServerTools(server.id),
    enabled: showTools, retry: false });
  const remove = useMutation({
    mutationFn: () => api.deleteMcpServer(server.id),
    onSuccess: () => client.invalidateQueries({ queryKey: keys.mcpServers }),
  });
  return (
    <li className="row-item">
      <div className="row-line">
        <div className="row-main">
          <strong>{server.name}</strong>
          <span className="muted small row-sub">{server.url}</span>
        </div>
        <button type="button" className="btn btn-sm" aria-expanded={showTools} onClick={() => setShowTools(!showTools)}>
          {showTools ? t("mcp.hideTools") : t("mcp.showTools", { name: server.name })}
        </button>
        <ConfirmButton label={t("mcp.remove", { name: server.name })} title={t("mcp.remove", { name: server.name })}
          message={t("mcp.confirmRemove", { name: server.name })} confirmLabel={t("mcp.remove", { name: server.name })}
          onConfirm={() => remove.mutate()} className="icon-btn danger">
          <TrashIcon />
        </ConfirmButton>
      </div>
      <ErrorNote text={remove.error ? errorText(remove.error, t) : null} />
      {showTools && (
        <div className="row-detail" aria-live="polite">
          {tools.isPending && <p className="muted small" role="status">{t("mcp.loadingTools")}</p>}
          {tools.isError && <ErrorNote text={errorText(tools.error, t)} />}
          {tools.data?.length === 0 && <p className="muted small">{t("mcp.noTools")}</p>}
          <ul className="tool-list">
            {tools.data?.map((tool) => (
              <li key={tool.name}><code>{tool.tool}</code> <span className="muted small">{tool.description}</span></li>
            ))}
          </ul>
        </div>
      )}
    </li>
  );
}
