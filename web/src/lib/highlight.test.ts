import { describe, expect, it } from "vitest";
import { fold, highlightParts } from "./highlight";

describe("search highlights", () => {
  it("folds accents and case one character for one", () => {
    expect(fold("ENVÍO a Peñíscola")).toBe("envio a peniscola");
    expect(fold("ENVÍO a Peñíscola").length).toBe("ENVÍO a Peñíscola".length);
  });
  it("marks the starts of words that the query's words begin, as written", () => {
    expect(highlightParts("¿Cuánto tarda el envío a Sevilla?", "envio SEVI")).toEqual([
      { text: "¿Cuánto tarda el ", hit: false }, { text: "envío", hit: true }, { text: " a ", hit: false },
      { text: "Sevi", hit: true }, { text: "lla?", hit: false },
    ]);
  });
  it("leaves the middle of words and empty queries alone", () => {
    expect(highlightParts("reenvío", "envio")).toEqual([{ text: "reenvío", hit: false }]);
    expect(highlightParts("hola", "  ")).toEqual([{ text: "hola", hit: false }]);
  });
});
