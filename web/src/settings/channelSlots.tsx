// What a kind of channel adds to its row in the channels screen beyond the common settings. The
// web widget's settings (WidgetSettings.tsx: its look, live preview and snippet) plug in here for
// `web` channels; Messenger's and Instagram's human agent tag (PageSettings.tsx) for theirs.
import type { Channel } from "../api/types";
import { PageSettings } from "./PageSettings";

export function ChannelExtra({ channel }: { channel: Channel }) {
  if (channel.kind === "facebook" || channel.kind === "instagram") return <PageSettings channel={channel} />;
  return null;
}
