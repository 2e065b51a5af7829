import { describe, expect, it } from "vitest";
import type { Channel } from "../api/types";
import { credentialFields, credentialsToSend, healthLevel, missingFields } from "./channelForm";

// As `GET /admin/channels/kinds` gives them (pydantic's JSON Schema).
const CLOUD = {
  type: "object", required: ["phone_number_id", "waba_id", "access_token", "app_secret"],
  properties: {
    phone_number_id: { type: "string", pattern: "^\\d{5,32}$", title: "Phone Number Id" },
    waba_id: { type: "string", pattern: "^\\d{5,32}$", title: "Waba Id" },
    access_token: { type: "string", format: "password", minLength: 8, title: "Access Token" },
    app_secret: { type: "string", format: "password", minLength: 8, title: "App Secret" },
  },
};
const API = {
  type: "object",
  properties: { outbound_secret: { anyOf: [{ type: "string", format: "password" }, { type: "null" }], default: null,
    title: "Outbound Secret" } },
};

describe("the connect form read from a kind's credentials schema", () => {
  it("asks for every field, the secrets hidden and the ids shown", () => {
    const fields = credentialFields(CLOUD);
    expect(fields.map((f) => f.name)).toEqual(["phone_number_id", "waba_id", "access_token", "app_secret"]);
    expect(fields.filter((f) => f.secret).map((f) => f.name)).toEqual(["access_token", "app_secret"]);
    expect(fields.every((f) => f.required)).toBe(true);
    expect(fields[0].pattern).toBe("^\\d{5,32}$");
  });
  it("reads an optional secret from its string branch, and no schema as no fields", () => {
    expect(credentialFields(API)).toEqual([{ name: "outbound_secret", required: false, secret: true,
      title: "Outbound Secret" }]);
    expect(credentialFields({})).toEqual([]);
    expect(credentialFields(undefined)).toEqual([]);
  });
  it("sends what was typed, trimmed, and says what a new channel still lacks", () => {
    const fields = credentialFields(CLOUD);
    const values = { phone_number_id: " 123456 ", waba_id: "", access_token: "EAAGsecret" };
    expect(credentialsToSend(fields, values)).toEqual({ phone_number_id: "123456", access_token: "EAAGsecret" });
    expect(missingFields(fields, values)).toEqual(["waba_id", "app_secret"]);
    expect(missingFields(fields, values, ["waba_id", "app_secret"])).toEqual([]); // stored ones stay
  });
});

describe("a channel's health at a glance", () => {
  const base = {
    enabled: true, status: "ok", health: { webhooks_failed: 0, deliveries_failing: 0 },
  } as unknown as Channel;
  it("is a problem when deliveries fail or the provider refused the credentials", () => {
    expect(healthLevel(base)).toBe("ok");
    expect(healthLevel({ ...base, health: { ...base.health, deliveries_failing: 2 } })).toBe("problem");
    expect(healthLevel({ ...base, status: "attention" })).toBe("problem");
  });
  it("is a warning when webhooks fail or the channel is off", () => {
    expect(healthLevel({ ...base, health: { ...base.health, webhooks_failed: 1 } })).toBe("warning");
    expect(healthLevel({ ...base, enabled: false })).toBe("warning");
  });
});
