import { useEffect, useRef, type ReactNode } from "react";
import type { Tag } from "../api/types";
import { useI18n } from "../lib/context";
import { avatarHue, initials, textOn } from "../lib/channels";
import { CloseIcon } from "./icons";

export function Avatar({ name, online, size = 44 }: { name: string; online?: boolean; size?: number }) {
  const { t } = useI18n();
  const hue = avatarHue(name);
  return (
    <span className="avatar" style={{ width: size, height: size, background: `hsl(${hue} 55% 88%)`, color: `hsl(${hue} 45% 30%)` }}
      aria-hidden={!online}>
      <span aria-hidden="true">{initials(name)}</span>
      {online && <span className="online-dot" role="img" aria-label={t("list.online")} title={t("list.online")} />}
    </span>
  );
}

export function TagChip({ tag, onRemove, removeLabel }: { tag: Tag; onRemove?: () => void; removeLabel?: string }) {
  return (
    <span className="tag-chip" style={{ background: tag.color, color: textOn(tag.color) }}>
      {tag.name}
      {onRemove && (
        <button type="button" className="tag-chip-x" onClick={onRemove} aria-label={removeLabel} title={removeLabel}>
          <CloseIcon width={12} height={12} />
        </button>
      )}
    </span>
  );
}

/** A modal on the native <dialog>: focus is trapped and Escape closes it, as browsers do. */
export function Dialog({ title, onClose, children, wide }: {
  title: string; onClose: () => void; children: ReactNode; wide?: boolean;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const { t } = useI18n();
  useEffect(() => {
    const el = ref.current;
    if (el && !el.open) el.showModal();
    return () => el?.close();
  }, []);
  return (
    <dialog ref={ref} className={`dialog${wide ? " dialog-wide" : ""}`} aria-labelledby="dialog-title"
      onCancel={(e) => { e.preventDefault(); onClose(); }}
      onClick={(e) => { if (e.target === ref.current) onClose(); }}>
      <div className="dialog-head">
        <h2 id="dialog-title">{title}</h2>
        <button type="button" className="icon-btn" onClick={onClose} aria-label={t("dialog.close")}><CloseIcon /></button>
      </div>
      <div className="dialog-body">{children}</div>
    </dialog>
  );
}
