import { useQuery } from "@tanstack/react-query";
import { ApiError } from "../api/client";
import { api, keys } from "../api/endpoints";
import type { AiTrace } from "../api/types";
import { useI18n } from "../lib/context";
import { Dialog } from "./common";

function show(value: unknown): string {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

function assistantName(trace: AiTrace): unknown {
  const a = trace.assistant;
  return a && typeof a === "object" ? a.name : a;
}

function tokensText(tokens: AiTrace["tokens"]): string {
  if (tokens === null || tokens === undefined) return "—";
  if (typeof tokens === "number") return String(tokens);
  return Object.entries(tokens).map(([k, v]) => `${k}: ${v}`).join(" · ");
}

function latencyText(trace: AiTrace): string {
  const ms = trace.latency_ms ?? (trace.latency as number | undefined);
  return typeof ms === "number" ? `${Math.round(ms)} ms` : "—";
}

/** The "why?" of an AI reply: the trace recorded under its correlation id. */
export function TraceDialog({ correlationId, onClose }: { correlationId: string; onClose: () => void }) {
  const { t } = useI18n();
  const trace = useQuery({ queryKey: keys.trace(correlationId), queryFn: () => api.trace(correlationId), retry: false, staleTime: Infinity });
  return (
    <Dialog title={t("trace.title")} onClose={onClose} wide>
      {trace.isPending && <p role="status">{t("trace.loading")}</p>}
      {trace.isError && (
        <p role="alert">{trace.error instanceof ApiError && trace.error.status === 404 ? t("trace.notFound") : String(trace.error.message)}</p>
      )}
      {trace.data && <TraceBody trace={trace.data} correlationId={correlationId} />}
    </Dialog>
  );
}

function TraceBody({ trace, correlationId }: { trace: AiTrace; correlationId: string }) {
  const { t } = useI18n();
  const sources = Array.isArray(trace.sources) ? trace.sources : [];
  const steps = Array.isArray(trace.steps) ? trace.steps : [];
  return (
    <div className="trace">
      <dl className="trace-grid">
        <div><dt>{t("trace.assistant")}</dt><dd>{show(assistantName(trace))}</dd></div>
        <div><dt>{t("trace.provider")}</dt><dd>{show(trace.provider)}</dd></div>
        <div><dt>{t("trace.model")}</dt><dd>{show(trace.model)}</dd></div>
        <div><dt>{t("trace.latency")}</dt><dd>{latencyText(trace)}</dd></div>
        <div><dt>{t("trace.tokens")}</dt><dd>{tokensText(trace.tokens)}</dd></div>
        <div><dt>{t("trace.outcome")}</dt><dd><span className={`outcome outcome-${show(trace.outcome)}`}>{show(trace.outcome)}</span></dd></div>
      </dl>
      <p className="trace-id muted">correlation_id: <code>{correlationId}</code></p>
      <h3>{t("trace.sources")}</h3>
      {sources.length === 0 ? <p className="muted">{t("trace.noSources")}</p> : (
        <ul className="trace-sources">
          {sources.map((s, i) => {
            if (typeof s === "string") return <li key={i}>{s}</li>;
            const title = s.title ?? s.name ?? s.document ?? s.id;
            const excerpt = s.excerpt ?? s.snippet ?? s.text ?? s.content;
            const score = typeof s.score === "number" ? s.score.toFixed(2) : null;
            return (
              <li key={i}>
                <strong>{show(title)}</strong>{score && <span className="muted"> · {score}</span>}
                {excerpt !== undefined && <p className="trace-excerpt">{show(excerpt)}</p>}
              </li>
            );
          })}
        </ul>
      )}
      <h3>{t("trace.steps")}</h3>
      <ol className="trace-steps">
        {steps.map((step, i) => {
          const { type, kind, name, tool, tool_calls, ...rest } = step as Record<string, unknown>;
          const calls = Array.isArray(tool_calls) ? tool_calls as Record<string, unknown>[] : [];
          return (
            <li key={i}>
              <div className="step-head">
                <span className="step-kind">{show(type ?? kind ?? "step")}</span>
                {(name ?? tool) !== undefined && <strong>{show(name ?? tool)}</strong>}
              </div>
              {calls.map((c, j) => (
                <div key={j} className="tool-call">
                  <span className="muted">{t("trace.tool")}:</span> <strong>{show(c.name ?? c.tool)}</strong>
                  <pre>{JSON.stringify({ ...c, name: undefined, tool: undefined }, null, 2)}</pre>
                </div>
              ))}
              {Object.keys(rest).length > 0 && <pre>{JSON.stringify(rest, null, 2)}</pre>}
            </li>
          );
        })}
      </ol>
    </div>
  );
}
