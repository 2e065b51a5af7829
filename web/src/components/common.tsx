import { useEffect, useId, useRef, type ReactNode } from "react";
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

/** For anything that opens over the page (dialogs, drawers, the image viewer): when it closes,
 * focus goes back to the control that had it when it opened (the one that opened it). Declared
 * before anything that moves the focus in. */
export function useReturnFocus(): void {
  useEffect(() => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    // It leaves the page with its component: the browser's own focus return does not run.
    return () => { if (opener?.isConnected) opener.focus(); };
  }, []);
}

/** A modal on the native <dialog>: focus is trapped and Escape closes it, as browsers do; when it
 * closes, focus goes back to the control that opened it. */
export function Dialog({ title, onClose, children, wide, drawer }: {
  title: string; onClose: () => void; children: ReactNode; wide?: boolean; drawer?: boolean;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const { t } = useI18n();
  useReturnFocus();
  useEffect(() => {
    const el = ref.current;
    if (el && !el.open) el.showModal();
    return () => el?.close();
  }, []);
  const kind = drawer ? " dialog-drawer" : wide ? " dialog-wide" : "";
  return (
    <dialog ref={ref} className={`dialog${kind}`} aria-labelledby={titleId}
      onCancel={(e) => { e.preventDefault(); onClose(); }}
      onClick={(e) => { if (e.target === ref.current) onClose(); }}>
      <div className="dialog-head">
        <h2 id={titleId}>{title}</h2>
        <button type="button" className="icon-btn" onClick={onClose} aria-label={t("dialog.close")}><CloseIcon /></button>
      </div>
      <div className="dialog-body">{children}</div>
    </dialog>
  );
}

/** A side sheet (the contact on screens too narrow for its column). */
export function Drawer(props: { title: string; onClose: () => void; children: ReactNode }) {
  return <Dialog {...props} drawer />;
}
