// The inbox's calls for attention: the unread count in the tab's title, notifications and the
// sound (lib/attention.ts), and the two buttons that let an agent allow or silence them.
import { useEffect, useRef, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { api, keys } from "../api/endpoints";
import { onAttention, playChime, setSoundOn, soundOn, titleWithUnread, type Attention } from "../lib/attention";
import { useI18n, useLiveState } from "../lib/context";

function notificationsSupported(): boolean {
  return typeof window !== "undefined" && "Notification" in window;
}

/** While the inbox is shown: the title counts unread conversations; a handoff or a customer writing
 *  to a person notifies and chimes, unless that chat is open in a visible tab. */
export function useAttention(openId: string | null, open: (id: string) => void): void {
  const { t } = useI18n();
  const live = useLiveState();
  const unread = useQuery({
    queryKey: keys.unread, queryFn: api.unread,
    // Events ask again (lib/attention.ts: noticeEvent); a slow poll only while the socket is down.
    refetchInterval: live === "open" ? false : 60_000,
  });
  const base = useRef(document.title);
  const count = unread.data?.conversations ?? 0;
  useEffect(() => {
    document.title = titleWithUnread(base.current, count);
  }, [count]);
  useEffect(() => {
    const title = base.current;
    return () => { document.title = title; };
  }, []);

  const current = useRef({ openId, open, t });
  current.current = { openId, open, t };
  useEffect(() => onAttention(({ kind, row }: Attention) => {
    const { openId: shown, open: go, t: say } = current.current;
    if (document.visibilityState === "visible" && shown === row.id) return;
    if (notificationsSupported() && Notification.permission === "granted") {
      const notice = new Notification(say(kind === "handoff" ? "attention.handoff" : "attention.customer",
        { name: row.display_name }), { body: row.last_message, tag: `tertulia-${row.id}` });
      notice.onclick = () => {
        window.focus();
        go(row.id);
        notice.close();
      };
    }
    if (soundOn()) playChime();
  }), []);
}

export function AttentionControls() {
  const { t } = useI18n();
  const [sound, setSound] = useState(soundOn);
  const [permission, setPermission] = useState(() => (notificationsSupported() ? Notification.permission : "denied"));
  return (
    <div className="attention-controls">
      {permission === "default" && (
        <button type="button" className="link attention-allow" onClick={() => {
          void Notification.requestPermission().then(setPermission);
        }}>{t("attention.allow")}</button>
      )}
      <button type="button" className="icon-btn attention-sound" aria-pressed={sound}
        aria-label={t("attention.sound")} title={sound ? t("attention.soundOn") : t("attention.soundOff")}
        onClick={() => {
          setSoundOn(!sound);
          setSound(!sound);
          if (!sound) playChime(); // what it will sound like
        }}>
        {sound ? "🔔" : "🔕"}
      </button>
    </div>
  );
}
