import { describe, expect, it } from "vitest";
import { addUserMessage, applyFrame, chatUrl, emptyConversation, reconnectDelay, resultLinks } from "./protocol";

describe("the chatbot's conversation", () => {
  it("starts from the snapshot, oldest first, with links and error codes", () => {
    const state = applyFrame(emptyConversation, {
      type: "history_snapshot",
      session_id: 7,
      messages: [
        { id: 1, role: "user", content: "/repetitividad mes=9 anio=2025", created_at: "2025-10-07T18:30:11" },
        { id: 2, role: "assistant", content: "listo", created_at: "2025-10-07T18:30:12",
          metadata: { tool: "GenerarInformeRepetitividad", result: { status: "ok", docx: "/reports/t/a.docx", map: null } } },
        { id: 3, role: "assistant", content: "no existe", created_at: "2025-10-07T18:31:00", metadata: { code: "FILE_NOT_FOUND" } },
      ],
    });
    expect(state.sessionId).toBe(7);
    expect(state.items.map((i) => i.role)).toEqual(["user", "assistant", "assistant"]);
    expect(resultLinks(state.items[1].result)).toEqual([{ kind: "docx", url: "/reports/t/a.docx" }]);
    expect(state.items[2].code).toBe("FILE_NOT_FOUND");
  });

  it("streams deltas into one answer, then the final text and its result", () => {
    let state = addUserMessage(emptyConversation, "/repetitividad mes=9 anio=2025", [{ name: "c.xlsx", path: "chat_1_c.xlsx" }]);
    expect(state.busy).toBe(true);
    state = applyFrame(state, { type: "assistant_delta", content: "↻ Ejecutando GenerarInformeRepetitividad…\n" });
    state = applyFrame(state, { type: "assistant_delta", content: "Archivo leído: 300 filas\n" });
    expect(state.items).toHaveLength(2);
    expect(state.items[1]).toMatchObject({ streaming: true, content: "↻ Ejecutando GenerarInformeRepetitividad…\nArchivo leído: 300 filas\n" });
    state = applyFrame(state, { type: "assistant_done", content: "**Listo**",
      metadata: { tool: "GenerarInformeRepetitividad", result: { status: "ok", pdf: "/reports/t/r.pdf", map: "/reports/t/m.html" } } });
    expect(state.busy).toBe(false);
    expect(state.items[1]).toMatchObject({ content: "**Listo**", tool: "GenerarInformeRepetitividad" });
    expect(state.items[1].streaming).toBeUndefined();
    expect(resultLinks(state.items[1].result).map((l) => l.kind)).toEqual(["pdf", "map"]);
  });

  it("ends a turn on an error frame with its code", () => {
    let state = addUserMessage(emptyConversation, "", []);
    state = applyFrame(state, { type: "error", content: "el mensaje está vacío", metadata: { code: "WS_BAD_REQUEST" } });
    expect(state.busy).toBe(false);
    expect(state.items[1]).toMatchObject({ role: "assistant", code: "WS_BAD_REQUEST" });
  });

  it("waits like the original panel before reconnecting", () => {
    expect(reconnectDelay(0, () => 0)).toBe(400);
    expect(reconnectDelay(3, () => 1)).toBe(3450);
    expect(reconnectDelay(6, () => 0)).toBe(15_000);
    expect(reconnectDelay(50, () => 0)).toBe(15_000);
  });

  it("follows the page's scheme", () => {
    expect(chatUrl({ protocol: "https:", host: "panel.example" })).toBe("wss://panel.example/ws/chat");
    expect(chatUrl({ protocol: "http:", host: "127.0.0.1:8000" })).toBe("ws://127.0.0.1:8000/ws/chat");
  });
});
