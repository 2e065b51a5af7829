// The drawer's socket: connects while the drawer is open, reconnects with the original panel's
// backoff, stops after a 4401 (the session expired: the person must log in again).
import { useCallback, useEffect, useRef, useState } from "react";
import {
  addUserMessage, applyFrame, chatUrl, CLOSE_UNAUTHORIZED, emptyConversation, reconnectDelay,
  type Attachment, type Conversation, type ServerFrame,
} from "./protocol";

export type ChatConnection = "connecting" | "open" | "reconnecting" | "expired";

export function useChatSocket(active: boolean) {
  const [conversation, setConversation] = useState<Conversation>(emptyConversation);
  const [connection, setConnection] = useState<ChatConnection>("connecting");
  const socket = useRef<WebSocket | null>(null);

  useEffect(() => {
    if (!active) return;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;

    function connect() {
      const ws = new WebSocket(chatUrl(window.location));
      socket.current = ws;
      ws.onopen = () => {
        attempt = 0;
        setConnection("open");
      };
      ws.onmessage = (event) => {
        let frame: ServerFrame;
        try {
          frame = JSON.parse(String(event.data)) as ServerFrame;
        } catch {
          return;
        }
        if (frame.type === "error" && (frame.metadata?.code === "WS_UNAUTHORIZED" || frame.metadata?.code === "WS_SESSION_ERROR")) {
          setConnection("expired");
        }
        setConversation((state) => applyFrame(state, frame));
      };
      ws.onclose = (event) => {
        socket.current = null;
        setConversation((state) => ({ ...state, busy: false }));
        if (stopped) return;
        if (event.code === CLOSE_UNAUTHORIZED) {
          setConnection("expired");
          return;
        }
        setConnection("reconnecting");
        timer = setTimeout(connect, reconnectDelay(attempt++));
      };
    }

    setConnection("connecting");
    connect();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      socket.current?.close();
      socket.current = null;
    };
  }, [active]);

  const sendMessage = useCallback((content: string, attachments: Attachment[]) => {
    const ws = socket.current;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify({ type: "user_message", content, attachments }));
    setConversation((state) => addUserMessage(state, content, attachments));
    return true;
  }, []);

  const startOver = useCallback((sessionId: number) => {
    setConversation({ sessionId, items: [], busy: false });
  }, []);

  return { conversation, connection, sendMessage, startOver };
}
