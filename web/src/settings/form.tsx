// Small pieces the settings screens share: a labelled field with its hint or error, a confirmation
// dialog, and a "saved" note.
import { cloneElement, useId, useState, type ReactElement, type ReactNode } from "react";
import { Dialog } from "../components/common";
import { CopyIcon } from "../components/icons";
import { useI18n } from "../lib/context";

export function Field({ label, hint, error, children }: {
  label: string; hint?: ReactNode; error?: string; children: ReactElement<Record<string, unknown>>;
}) {
  const id = useId();
  const note = `${id}-note`;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {cloneElement(children, {
        id, "aria-invalid": !!error, "aria-describedby": error || hint ? note : undefined,
      })}
      {error ? <span className="field-error" id={note} role="alert">{error}</span>
        : hint ? <span className="field-hint" id={note}>{hint}</span> : null}
    </div>
  );
}

/** A button that asks before doing something that cannot be undone. */
export function ConfirmButton({ label, title, message, confirmLabel, onConfirm, className, disabled, children }: {
  label: string; title: string; message: string; confirmLabel: string; onConfirm: () => void;
  className?: string; disabled?: boolean; children?: ReactNode;
}) {
  const { t } = useI18n();
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" className={className ?? "btn btn-sm"} aria-label={label} title={label} disabled={disabled}
        onClick={() => setOpen(true)}>
        {children ?? label}
      </button>
      {open && (
        <Dialog title={title} onClose={() => setOpen(false)}>
          <p>{message}</p>
          <div className="form-actions">
            <button type="button" className="btn" onClick={() => setOpen(false)}>{t("common.cancel")}</button>
            <button type="button" className="btn btn-danger" onClick={() => { setOpen(false); onConfirm(); }}>
              {confirmLabel}
            </button>
          </div>
        </Dialog>
      )}
    </>
  );
}

export function ErrorNote({ text }: { text: string | null | undefined }) {
  return text ? <p className="form-error" role="alert">{text}</p> : null;
}

/** A value to paste elsewhere (a token, a webhook URL): selectable, with a copy button. */
export function CopyField({ label, value }: { label: string; value: string }) {
  const { t } = useI18n();
  const [copied, setCopied] = useState(false);
  async function copy() {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(true);
    } catch {
      setCopied(false); // no clipboard (insecure origin): the value is selectable
    }
  }
  return (
    <div className="copy-field">
      <span className="copy-label small">{label}</span>
      <div className="token-row">
        <input readOnly aria-label={label} value={value} onFocus={(e) => e.target.select()} />
        <button type="button" className="btn btn-sm" onClick={copy} aria-label={`${t("tokens.copy")}: ${label}`}>
          <CopyIcon /> {copied ? t("tokens.copied") : t("tokens.copy")}
        </button>
      </div>
    </div>
  );
}
