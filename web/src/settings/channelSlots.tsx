// What a kind of channel adds to its row in the channels screen beyond the common settings. The
// web widget's settings (WidgetSettings.tsx: its look, live preview and snippet) plug in here for
// `web` channels.
import type { Channel } from "../api/types";

export function ChannelExtra({ channel }: { channel: Channel }) {
  void channel;
  return null;
}
