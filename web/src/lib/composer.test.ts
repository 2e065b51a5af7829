import { beforeEach, describe, expect, it } from "vitest";
import type { CannedResponse } from "../api/types";
import { checkFile, draftKey, filterCanned, insertAt, loadDraft, saveDraft, slashQuery } from "./composer";

const canned = (shortcut: string, title: string): CannedResponse => ({
  id: shortcut, shortcut, title, content: `${title}…`, created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z",
});

describe("the / shortcut", () => {
  it("is found at the start or after a space, up to the caret", () => {
    expect(slashQuery("/env", 4)).toEqual({ start: 0, query: "env" });
    expect(slashQuery("Hola /Hor", 9)).toEqual({ start: 5, query: "hor" });
    expect(slashQuery("/", 1)).toEqual({ start: 0, query: "" });
    expect(slashQuery("a/b", 3)).toBeNull(); // a url or a date, not a shortcut
    expect(slashQuery("/env dijo", 9)).toBeNull();
  });
  it("lists shortcuts that start with the query before those that only contain it", () => {
    const list = [canned("abrimos", "Horario"), canned("envio", "Envíos"), canned("reenvio", "Reenviar pedido")];
    expect(filterCanned(list, "envio").map((c) => c.shortcut)).toEqual(["envio", "reenvio"]);
    expect(filterCanned(list, "hor").map((c) => c.shortcut)).toEqual(["abrimos"]);
    expect(filterCanned(list, "").length).toBe(3);
  });
  it("inserts in place of the typed shortcut", () => {
    expect(insertAt("Hola /env", 5, 9, "Enviamos hoy")).toEqual({ text: "Hola Enviamos hoy", caret: 17 });
  });
});

describe("files", () => {
  it("are sent as their kind within WhatsApp's limits", () => {
    expect(checkFile({ name: "a.jpg", type: "image/jpeg", size: 1000 })).toEqual({ ok: true, kind: "image" });
    expect(checkFile({ name: "a.png", type: "image/png", size: 6 * 1024 * 1024 })).toMatchObject({ ok: false, reason: "size" });
    expect(checkFile({ name: "menu.pdf", type: "application/pdf", size: 50 * 1024 * 1024 })).toEqual({ ok: true, kind: "document" });
    expect(checkFile({ name: "virus.exe", type: "application/x-msdownload", size: 10 })).toEqual({ ok: false, reason: "type" });
  });
});

describe("drafts", () => {
  const kept = new Map<string, string>();
  const store = {
    getItem: (k: string) => kept.get(k) ?? null,
    setItem: (k: string, v: string) => void kept.set(k, v),
    removeItem: (k: string) => void kept.delete(k),
  };
  beforeEach(() => kept.clear());
  it("are kept per tenant and conversation, and an empty one is removed", () => {
    const key = draftKey("t1", "c1");
    expect(key).not.toBe(draftKey("t2", "c1"));
    saveDraft(key, { text: "Hola, te escribo", mode: "note" }, store);
    expect(loadDraft(key, store)).toEqual({ text: "Hola, te escribo", mode: "note" });
    expect(loadDraft(draftKey("t1", "c2"), store)).toBeNull();
    saveDraft(key, { text: "  ", mode: "reply" }, store);
    expect(loadDraft(key, store)).toBeNull();
    kept.set(key, "{not json");
    expect(loadDraft(key, store)).toBeNull();
  });
});
