import { useEffect, useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { keys } from "../api/endpoints";
import { noticeEvent } from "./attention";
import { applyEphemeral, applyEvent } from "./live";
import { EventSocket, eventsUrl, type SocketState } from "./socket";

/** Opens the tab's event socket for as long as the inbox is shown and folds its events into the caches. */
export function useLiveSocket(enabled: boolean): SocketState {
  const client = useQueryClient();
  const [state, setState] = useState<SocketState>("connecting");
  useEffect(() => {
    if (!enabled) return;
    const socket = new EventSocket(
      {
        onEvent: (event) => {
          noticeEvent(client, event);
          applyEvent(client, event);
        },
        onEphemeral: (frame) => applyEphemeral(client, frame),
        onResync: () => {
          // Too much was missed to replay: reload what is on screen.
          client.invalidateQueries({ predicate: (q) => q.queryKey[0] !== keys.me[0] });
        },
        onFirstLive: () => {
          // Live from here on; refetch once what was loaded before the socket was.
          client.invalidateQueries({ predicate: (q) => q.queryKey[0] !== keys.me[0] });
        },
        onState: (next) => {
          setState(next);
          if (next === "unauthorized") client.setQueryData(keys.me, null);
        },
      },
      { url: (after) => eventsUrl(window.location, after) },
    );
    socket.start();
    const nudge = () => socket.nudge();
    const onVisible = () => { if (document.visibilityState === "visible") socket.nudge(); };
    window.addEventListener("online", nudge);
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      window.removeEventListener("online", nudge);
      document.removeEventListener("visibilitychange", onVisible);
      socket.stop();
    };
  }, [enabled, client]);
  return state;
}
