// What the chat says about who answers and whether messages can leave, from the server
// (`GET /admin/chats/{id}/answering`), never assumed: "the AI is replying" only when an enabled
// assistant is linked to the conversation's channel; a channel that cannot deliver says why
// instead of leaving a clock on every message that never changes.
import { useEffect } from "react";
import { Link, useParams } from "@tanstack/react-router";
import { useQuery, type UseMutationResult } from "@tanstack/react-query";
import { api, keys } from "../api/endpoints";
import type { ChatSummary, ConversationAnswering } from "../api/types";
import { useI18n } from "../lib/context";
import { formatTime } from "../lib/dates";
import { deliveryText } from "../lib/deliveryText";
import { HandIcon, SparkIcon } from "./icons";
import { MANAGER_ROLES, useSession } from "./Panel";

export function ChatStateBanners({ row, lock }: {
  row: ChatSummary; lock: UseMutationResult<{ locked: boolean }, Error, boolean>;
}) {
  const { t, lang } = useI18n();
  const { slug } = useParams({ strict: false }) as { slug?: string };
  const canManage = MANAGER_ROLES.includes(useSession().data?.tenant?.role ?? "");
  const answering = useQuery({
    queryKey: keys.answering(row.id),
    queryFn: () => api.answering(row.id),
    refetchInterval: 30_000,
  });
  // A new message or a change of owner may follow a change of the queue: ask again.
  const { refetch } = answering;
  useEffect(() => {
    void refetch();
  }, [row.timestamp, row.is_locked, refetch]);
  const state: ConversationAnswering | undefined = answering.data;

  let text: string;
  let kind: "is-human" | "is-ai" | "is-none";
  if (row.is_locked) {
    text = t("chat.human.banner");
    kind = "is-human";
  } else if (!state || state.ai_answers) {
    text = state ? t("chat.ai.banner") : t("chat.ai.checking");
    kind = "is-ai";
  } else {
    text = t("chat.ai.none");
    kind = "is-none";
  }
  const why = !row.is_locked && state && !state.ai_answers && state.ai_missing
    ? t(`chat.ai.missing.${state.ai_missing}`, { name: state.assistant?.name ?? "" }) : null;

  return (
    <>
      <div className={`state-banner ${kind}`} role="region" aria-label={text}>
        {row.is_locked ? <HandIcon /> : <SparkIcon />}
        <span className="state-text">{text}</span>
        {why && <span className="state-why">{why}</span>}
        {why && canManage && slug && (
          <Link className="link state-link" to="/panel_cliente/$slug/settings/assistant" params={{ slug }}>
            {t("chat.ai.configure")}
          </Link>
        )}
        <span aria-hidden="true" className="state-sep">·</span>
        <button type="button" className={`btn btn-sm ${row.is_locked ? "btn-ai" : "btn-human"}`} disabled={lock.isPending}
          onClick={() => lock.mutate(!row.is_locked)}>
          {row.is_locked ? t("chat.human.handBack") : t("chat.ai.takeOver")}
        </button>
      </div>
      {state && state.delivery !== "ok" && (
        <div className="delivery-banner" role="alert" data-delivery={state.delivery}>
          <strong>{t(`chat.delivery.${state.delivery}`)}</strong>
          {state.delivery !== "disabled" && (state.delivery_reason || state.delivery_code) && (
            // A retry's last error is the provider's own words: said by its code instead.
            <span> {deliveryText(state.delivery_code, state.delivery === "paused" ? state.delivery_reason : null, lang, t)}</span>
          )}
          {state.delivery === "retrying" && state.next_attempt_at && (
            <span> {t("chat.delivery.nextAttempt", { time: formatTime(state.next_attempt_at, lang) })}</span>
          )}
          {state.waiting > 0 && <span> {t("chat.delivery.waiting", { count: state.waiting })}</span>}
        </div>
      )}
    </>
  );
}
