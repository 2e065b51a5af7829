import { describe, expect, it } from "vitest";
import { formatDayLabel, formatListDate, isOnline } from "./dates";

describe("formatListDate", () => {
  const now = new Date("2026-03-15T12:00:00Z");
  it("shows the time for today's messages", () => {
    expect(formatListDate("2026-03-15T09:05:00Z", "es", now, "UTC")).toBe("09:05");
  });
  it("shows day and month otherwise, in the chosen language", () => {
    expect(formatListDate("2026-02-03T09:05:00Z", "es", now, "UTC")).toMatch(/^3 feb/);
    expect(formatListDate("2026-02-03T09:05:00Z", "en", now, "UTC")).toMatch(/^3 Feb/);
  });
  it("is empty for an unreadable date", () => {
    expect(formatListDate("not a date", "es", now)).toBe("");
  });
});

describe("formatDayLabel", () => {
  const labels = { today: "Hoy", yesterday: "Ayer" };
  const now = new Date(2026, 2, 15, 12);
  it("names today and yesterday", () => {
    expect(formatDayLabel(new Date(2026, 2, 15, 8).toISOString(), "es", labels, now)).toBe("Hoy");
    expect(formatDayLabel(new Date(2026, 2, 14, 23).toISOString(), "es", labels, now)).toBe("Ayer");
  });
  it("capitalises only the first letter, as Spanish writes a label", () => {
    expect(formatDayLabel(new Date(2026, 2, 10, 8).toISOString(), "es", labels, now)).toBe("Martes, 10 de marzo");
    expect(formatDayLabel(new Date(2025, 11, 1, 8).toISOString(), "es", labels, now)).toBe("Lunes, 1 de diciembre de 2025");
    expect(formatDayLabel(new Date(2026, 2, 10, 8).toISOString(), "en", labels, now)).toBe("Tuesday 10 March");
  });
  it("spells older days out in the chosen language", () => {
    expect(formatDayLabel(new Date(2026, 2, 10, 8).toISOString(), "es", labels, now)).toContain("marzo");
    expect(formatDayLabel(new Date(2026, 2, 10, 8).toISOString(), "en", labels, now)).toContain("March");
    expect(formatDayLabel(new Date(2025, 2, 10, 8).toISOString(), "en", labels, now)).toContain("2025");
  });
});

describe("isOnline", () => {
  const now = Date.parse("2026-03-15T12:00:00Z");
  it("is online when any activity is within five minutes", () => {
    expect(isOnline(["2026-03-15T11:56:00Z"], now)).toBe(true);
    expect(isOnline([null, "2026-03-15T11:59:59Z"], now)).toBe(true);
  });
  it("is offline after five minutes or without activity", () => {
    expect(isOnline(["2026-03-15T11:54:59Z"], now)).toBe(false);
    expect(isOnline([null, undefined], now)).toBe(false);
  });
});
