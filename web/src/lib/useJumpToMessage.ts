import { useEffect, useRef } from "react";
import type { MessageWindow } from "./cache";

/** Opening a chat at a message (one a search found): older pages are loaded until the window
 *  holds it, then `show` scrolls to it and marks it. Once per message id; a message not in the
 *  chat (deleted, another chat's) ends the search where the history starts. */
export function useJumpToMessage(id: number | undefined, win: MessageWindow | undefined,
  loadOlder: () => Promise<void>, show: (id: number) => void): void {
  const done = useRef<number | null>(null);
  const actions = useRef({ loadOlder, show });
  actions.current = { loadOlder, show };
  useEffect(() => {
    if (id === undefined || done.current === id || !win) return;
    if (win.messages.some((m) => m.id === id)) {
      done.current = id;
      requestAnimationFrame(() => actions.current.show(id));
      return;
    }
    const first = win.messages[0]?.id;
    if (win.hasOlder && first !== undefined && first > id) void actions.current.loadOlder();
    else done.current = id;
  }, [id, win]);
}
