// The chat's pictures in an in-page viewer: zoom, previous/next across the chat's pictures,
// download; Escape (or the close button, or a click outside the picture) closes it and focus goes
// back to the picture that opened it. Opened by a click on any picture of the message log
// (delegated, so the bubbles stay plain links that also work without it).
import { useCallback, useEffect, useRef, useState, type MouseEvent, type ReactNode } from "react";
import { useI18n } from "../lib/context";
import { BackIcon, CloseIcon } from "./icons";

export interface ViewerImage { src: string; alt: string }

const ZOOMS = [1, 1.5, 2, 3];

export function ImageViewer({ images, start, opener, onClose }: {
  images: ViewerImage[]; start: number; opener: HTMLElement | null; onClose: () => void;
}) {
  const { t } = useI18n();
  const ref = useRef<HTMLDialogElement>(null);
  const [index, setIndex] = useState(start);
  const [zoom, setZoom] = useState(0);
  const image = images[index];
  useEffect(() => {
    const el = ref.current;
    if (el && !el.open) el.showModal();
    return () => {
      el?.close();
      // The picture that opened it (a click on a link does not always leave the focus on it).
      if (opener?.isConnected) opener.focus();
    };
  }, [opener]);
  const go = useCallback((step: number) => {
    setIndex((i) => Math.min(images.length - 1, Math.max(0, i + step)));
    setZoom(0);
  }, [images.length]);
  const zoomBy = (step: number) => setZoom((z) => Math.min(ZOOMS.length - 1, Math.max(0, z + step)));

  function onKeyDown(e: React.KeyboardEvent) {
    const action: Record<string, () => void> = {
      ArrowLeft: () => go(-1), ArrowRight: () => go(1), "+": () => zoomBy(1), "=": () => zoomBy(1),
      "-": () => zoomBy(-1), "0": () => setZoom(0),
    };
    if (action[e.key]) {
      e.preventDefault();
      action[e.key]();
    }
  }

  return (
    <dialog ref={ref} className="viewer" aria-label={t("viewer.title", { n: index + 1, total: images.length })}
      onCancel={(e) => { e.preventDefault(); onClose(); }} onKeyDown={onKeyDown}
      onClick={(e) => { if (e.target === e.currentTarget || (e.target as HTMLElement).classList.contains("viewer-stage")) onClose(); }}>
      <div className="viewer-bar">
        <span className="viewer-count" aria-live="polite">{t("viewer.count", { n: index + 1, total: images.length })}</span>
        <span className="viewer-actions">
          <button type="button" className="viewer-btn" onClick={() => zoomBy(-1)} disabled={zoom === 0}
            aria-label={t("viewer.zoomOut")} title={t("viewer.zoomOut")}>−</button>
          <span className="viewer-zoom">{Math.round(ZOOMS[zoom] * 100)} %</span>
          <button type="button" className="viewer-btn" onClick={() => zoomBy(1)} disabled={zoom === ZOOMS.length - 1}
            aria-label={t("viewer.zoomIn")} title={t("viewer.zoomIn")}>+</button>
          <a className="viewer-btn" href={image.src} download aria-label={t("viewer.download")} title={t("viewer.download")}>⤓</a>
          <button type="button" className="viewer-btn" onClick={onClose} aria-label={t("dialog.close")} title={t("dialog.close")}>
            <CloseIcon />
          </button>
        </span>
      </div>
      <div className={`viewer-stage${zoom ? " is-zoomed" : ""}`}>
        <img src={image.src} alt={image.alt} style={{ width: zoom ? `${ZOOMS[zoom] * 100}%` : undefined }}
          onDoubleClick={() => setZoom((z) => (z ? 0 : 2))} />
      </div>
      <button type="button" className="viewer-nav viewer-prev" onClick={() => go(-1)} disabled={index === 0}
        aria-label={t("viewer.previous")} title={t("viewer.previous")}><BackIcon width={22} height={22} /></button>
      <button type="button" className="viewer-nav viewer-next" onClick={() => go(1)} disabled={index === images.length - 1}
        aria-label={t("viewer.next")} title={t("viewer.next")}><BackIcon width={22} height={22} /></button>
    </dialog>
  );
}

/** For the message log: its click handler (a picture opens the viewer on every picture of the
 *  log, in order) and the viewer while open. */
export function useImageViewer(): { onClick: (e: MouseEvent<HTMLElement>) => void; viewer: ReactNode } {
  const [open, setOpen] = useState<{ images: ViewerImage[]; start: number; opener: HTMLElement } | null>(null);
  const onClick = useCallback((e: MouseEvent<HTMLElement>) => {
    const link = (e.target as HTMLElement).closest<HTMLAnchorElement>("a.att-image");
    if (!link || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return; // a new tab stays a new tab
    e.preventDefault();
    const links = Array.from(e.currentTarget.querySelectorAll<HTMLAnchorElement>("a.att-image"));
    setOpen({
      images: links.map((a) => ({ src: a.href, alt: a.querySelector("img")?.alt ?? "" })),
      start: Math.max(0, links.indexOf(link)),
      opener: link,
    });
  }, []);
  const viewer = open && <ImageViewer {...open} onClose={() => setOpen(null)} />;
  return { onClick, viewer };
}
