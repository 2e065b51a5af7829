// Messenger's and Instagram's own setting in the channels screen: whether a person of the team may
// answer up to 7 days after the customer's last message with Meta's human agent tag (the AI never
// writes past 24 hours).
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, keys } from "../api/endpoints";
import type { Channel } from "../api/types";
import { useI18n } from "../lib/context";
import { errorText } from "../lib/errors";
import { ErrorNote } from "./form";

export function PageSettings({ channel }: { channel: Channel }) {
  const { t } = useI18n();
  const client = useQueryClient();
  const update = useMutation({
    mutationFn: (on: boolean) => api.updateChannel(channel.id, { human_agent_tag: on }),
    onSuccess: () => client.invalidateQueries({ queryKey: keys.channels }),
  });
  return (
    <div className="channel-page-settings">
      <label className="check">
        <input type="checkbox" checked={channel.human_agent_tag} disabled={update.isPending}
          onChange={(e) => update.mutate(e.target.checked)} />
        {t("channels.humanAgentTag")}
      </label>
      <p className="muted small">{t("channels.humanAgentTagHint")}</p>
      <ErrorNote text={update.error ? errorText(update.error, t) : null} />
    </div>
  );
}
