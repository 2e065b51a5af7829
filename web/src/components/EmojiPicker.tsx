// A compact emoji picker: the emoji people use in customer chats, by category. Built in (a few
// hundred bytes of data, no package) and loaded only when first opened.
import { useEffect, useRef, useState, type KeyboardEvent } from "react";
import type { MessageKey } from "../i18n";
import { useI18n } from "../lib/context";

const GROUPS: ReadonlyArray<{ key: MessageKey; icon: string; emoji: string }> = [
  { key: "composer.emojiGroup.smileys", icon: "😀",
    emoji: "😀 😃 😄 😁 😆 😅 😂 🤣 😊 😇 🙂 😉 😍 🥰 😘 😋 😜 🤗 🤔 🤩 😎 🥳 😌 😴 🤤 😐 😶 🙄 😏 😬 😮 😯 😲 😳 🥺 😢 😭 😤 😡 🤯 😱 🤒 🤧 😷" },
  { key: "composer.emojiGroup.gestures", icon: "👍",
    emoji: "👍 👎 👌 ✌️ 🤞 🤝 🙏 👏 🙌 👋 🤙 💪 👉 👈 👆 👇 ☝️ ✋ 🤚 🖐️ 🫶 👀 🧑‍💻 💁 🙋 🤷 🙇 🏃" },
  { key: "composer.emojiGroup.hearts", icon: "❤️",
    emoji: "❤️ 🧡 💛 💚 💙 💜 🖤 🤍 🤎 💕 💖 💗 💓 💞 💘 💝 💔 ❣️ 💯 ✨ 🌟 ⭐ 🔥 🎉 🎊 🎁 🎈" },
  { key: "composer.emojiGroup.food", icon: "☕",
    emoji: "☕ 🍵 🥤 🧃 🍺 🍷 🥐 🍞 🥖 🧀 🥚 🍳 🥞 🧇 🥓 🍔 🍟 🍕 🌮 🌯 🥗 🍝 🍣 🍰 🎂 🧁 🍩 🍪 🍫 🍓 🍌 🍎 🥑" },
  { key: "composer.emojiGroup.objects", icon: "📦",
    emoji: "📦 🛍️ 🛒 💳 💵 🧾 📄 📎 📌 📍 🗓️ ⏰ ⌛ 📞 📱 💻 📧 ✉️ 📷 🎁 🔑 🏠 🏪 🚚 🛵 🚗 ✈️ 🧳 🎟️" },
  { key: "composer.emojiGroup.symbols", icon: "✅",
    emoji: "✅ ☑️ ✔️ ❌ ⚠️ ❗ ❓ ℹ️ 🆗 🆕 🆓 🔝 🔜 ➡️ ⬅️ ⬆️ ⬇️ 🔄 ➕ ➖ 💬 🗨️ 🔔 🔕 🚫 ⛔ 🟢 🟡 🔴" },
];

export function EmojiPicker({ onPick, onClose }: { onPick: (emoji: string) => void; onClose: () => void }) {
  const { t } = useI18n();
  const [group, setGroup] = useState(0);
  const panel = useRef<HTMLDivElement>(null);
  useEffect(() => {
    panel.current?.querySelector<HTMLButtonElement>(".emoji-grid button")?.focus();
    function outside(e: MouseEvent) {
      if (panel.current && !panel.current.contains(e.target as Node)) onClose();
    }
    document.addEventListener("mousedown", outside);
    return () => document.removeEventListener("mousedown", outside);
  }, [onClose]);

  // Arrows move through the grid (8 a row), Escape closes.
  function onKeyDown(e: KeyboardEvent<HTMLDivElement>) {
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      onClose();
      return;
    }
    const moves: Record<string, number> = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: 8, ArrowUp: -8 };
    const step = moves[e.key];
    const target = e.target as HTMLElement;
    if (step === undefined || !target.closest(".emoji-grid")) return;
    const buttons = [...(panel.current?.querySelectorAll<HTMLButtonElement>(".emoji-grid button") ?? [])];
    const at = buttons.indexOf(target as HTMLButtonElement);
    const next = buttons[Math.min(Math.max(at + step, 0), buttons.length - 1)];
    if (next) {
      e.preventDefault();
      next.focus();
    }
  }

  const current = GROUPS[group];
  return (
    <div className="emoji-pop" ref={panel} role="dialog" aria-label={t("composer.emoji")} onKeyDown={onKeyDown}>
      <div className="emoji-tabs" role="tablist">
        {GROUPS.map((g, i) => (
          <button key={g.key} type="button" role="tab" aria-selected={i === group} title={t(g.key)} aria-label={t(g.key)}
            className={i === group ? "is-active" : undefined} onClick={() => setGroup(i)}>{g.icon}</button>
        ))}
      </div>
      <div className="emoji-grid" role="tabpanel" aria-label={t(current.key)}>
        {current.emoji.split(" ").map((e) => (
          <button key={e} type="button" onClick={() => onPick(e)} aria-label={e}>{e}</button>
        ))}
      </div>
    </div>
  );
}
