import { useQuery } from "@tanstack/react-query";
import { ApiError } from "../api/client";
import { api, keys } from "../api/endpoints";
import type { AiTrace } from "../api/types";
import { useAssistantName } from "../lib/assistant";
import { useI18n } from "../lib/context";
import { dictionaries, type MessageKey, type Translate } from "../i18n";
import { errorText } from "../lib/errors";
import { Dialog } from "./common";

function show(value: unknown): string {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

/** The words for a value the server names (an outcome, a step), or the name itself when new. */
function label(t: Translate, key: string, fallback: string): string {
  return key in dictionaries.es ? t(key as MessageKey) : fallback;
}

function ms(value: number | null | undefined): string {
  return typeof value === "number" ? `${Math.round(value)} ms` : "—";
}

/** The "why?" of an AI reply: the trace recorded under its correlation id. */
export function TraceDialog({ correlationId, onClose }: { correlationId: string; onClose: () => void }) {
  const { t } = useI18n();
  const trace = useQuery({ queryKey: keys.trace(correlationId), queryFn: () => api.trace(correlationId), retry: false, staleTime: Infinity });
  return (
    <Dialog title={t("trace.title")} onClose={onClose} wide>
      {trace.isPending && <p role="status">{t("trace.loading")}</p>}
      {trace.isError && (
        <p role="alert">{trace.error instanceof ApiError && trace.error.status === 404 ? t("trace.notFound") : errorText(trace.error, t)}</p>
      )}
      {trace.data && <TraceBody trace={trace.data} />}
    </Dialog>
  );
}

export function TraceBody({ trace }: { trace: AiTrace }) {
  const { t } = useI18n();
  const assistant = useAssistantName(trace.assistant_id);
  const sources = Array.isArray(trace.sources) ? trace.sources : [];
  const steps = Array.isArray(trace.steps) ? trace.steps : [];
  const tokens = trace.tokens_in !== undefined || trace.tokens_out !== undefined
    ? `${trace.tokens_in ?? 0} → ${trace.tokens_out ?? 0}` : "—";
  return (
    <div className="trace">
      <dl className="trace-grid">
        <div><dt>{t("trace.assistant")}</dt><dd>{assistant}</dd></div>
        <div><dt>{t("trace.provider")}</dt><dd>{show(trace.provider)}</dd></div>
        <div><dt>{t("trace.model")}</dt><dd>{show(trace.model)}</dd></div>
        <div><dt>{t("trace.latency")}</dt><dd>{ms(trace.latency_ms)}{trace.ttft_ms ? <span className="muted small"> · TTFT {ms(trace.ttft_ms)}</span> : null}</dd></div>
        <div><dt>{t("trace.tokens")}</dt><dd>{tokens}</dd></div>
        <div><dt>{t("trace.outcome")}</dt><dd><span className={`outcome outcome-${trace.outcome}`}>{label(t, `outcome.${trace.outcome}`, trace.outcome)}</span></dd></div>
      </dl>
      {trace.error && <p className="form-error" role="alert">{trace.error}</p>}
      <p className="trace-id muted">correlation_id: <code>{trace.correlation_id}</code></p>
      <h3>{t("trace.sources")}</h3>
      {sources.length === 0 ? <p className="muted">{t("trace.noSources")}</p> : (
        <ul className="trace-sources">
          {sources.map((s, i) => (
            <li key={i}>
              <strong>{show(s.title ?? s.entry_id)}</strong>
              {typeof s.score === "number" && <span className="muted"> · {s.score.toFixed(2)}</span>}
              {typeof s.content === "string" && s.content && <p className="trace-excerpt">{s.content}</p>}
            </li>
          ))}
        </ul>
      )}
      <h3>{t("trace.steps")}</h3>
      <ol className="trace-steps">
        {steps.map((step, i) => <Step key={i} step={step} />)}
      </ol>
      {trace.output && (
        <>
          <h3>{t("trace.output")}</h3>
          <p className="trace-output">{trace.output}</p>
        </>
      )}
    </div>
  );
}

function Step({ step }: { step: Record<string, unknown> }) {
  const { t } = useI18n();
  const type = String(step.type ?? "step");
  const calls = Array.isArray(step.tool_calls) ? (step.tool_calls as Array<Record<string, unknown>>) : [];
  return (
    <li>
      <div className="step-head">
        <span className={`step-kind step-${type}`}>{type === "tool" ? t("trace.tool") : label(t, `trace.step.${type}`, type)}</span>
        {typeof step.name === "string" && <strong>{step.name}</strong>}
        {typeof step.duration_ms === "number" && <span className="muted small">{ms(step.duration_ms)}</span>}
      </div>
      {typeof step.reasoning === "string" && step.reasoning && <p className="trace-excerpt"><em>{step.reasoning}</em></p>}
      {typeof step.text === "string" && step.text && <p className="trace-excerpt">{step.text}</p>}
      {calls.map((c, j) => (
        <div key={j} className="tool-call">
          <span className="muted">{t("trace.toolCall")}</span> <strong>{show(c.name)}</strong>
          <pre>{JSON.stringify(c.arguments ?? {}, null, 2)}</pre>
        </div>
      ))}
      {type === "tool" && (
        <>
          <span className="pre-caption">{t("trace.arguments")}</span>
          <pre>{JSON.stringify(step.arguments ?? {}, null, 2)}</pre>
          {"result" in step && (
            <>
              <span className="pre-caption">{t("trace.result")}</span>
              <pre>{JSON.stringify(step.result, null, 2)}</pre>
            </>
          )}
        </>
      )}
      {typeof step.error === "string" && <p className="form-error">{step.error}</p>}
    </li>
  );
}
