import { QueryClient } from "@tanstack/react-query";
import { describe, expect, it } from "vitest";
import { keys } from "../api/endpoints";
import { applyEphemeral, applyEvent } from "./live";
import { classifyFrame, EventSocket, type EphemeralFrame, type ServerEvent } from "./socket";
import { applyVisitorTyping, TYPING_SHOW_MS, TypingThrottle, typingUntil } from "./typing";

describe("TypingThrottle", () => {
  function recorder() {
    let now = 0;
    const sent: [number, boolean][] = [];
    const throttle = new TypingThrottle((on) => sent.push([now, on]), 3000, () => now);
    return { throttle, sent, at: (ms: number) => { now = ms; } };
  }

  it("says 'on' at most once every 3 s while the agent types", () => {
    const { throttle, sent, at } = recorder();
    for (const ms of [0, 200, 1000, 2999, 3000, 3500, 6100]) {
      at(ms);
      throttle.input("hola".slice(0, 1 + (ms % 4)));
    }
    expect(sent).toEqual([[0, true], [3000, true], [6100, true]]);
  });

  it("says 'off' once when the box is emptied or the agent leaves, and nothing if it never said 'on'", () => {
    const { throttle, sent, at } = recorder();
    throttle.stop();
    throttle.input("   ");
    expect(sent).toEqual([]);
    throttle.input("h");
    at(500);
    throttle.input("");
    throttle.input("");
    throttle.stop();
    expect(sent).toEqual([[0, true], [500, false]]);
    // typing again right away is 'on' again (the stop reset the wait)
    at(600);
    throttle.input("o");
    expect(sent.at(-1)).toEqual([600, true]);
  });
});

describe("the visitor's typing in the panel", () => {
  const conv = "c-1";
  const frame = (on: boolean): EphemeralFrame => ({ type: "visitor.typing", data: { conversation_id: conv, on } });

  it("is an ephemeral frame: handed over without moving lastSeq", () => {
    expect(classifyFrame(frame(true), 7)).toEqual({ kind: "ephemeral", frame: frame(true) });
    const got: EphemeralFrame[] = [];
    const events: ServerEvent[] = [];
    const socket = new EventSocket({ onEvent: (e) => events.push(e), onResync: () => {}, onState: () => {},
      onEphemeral: (f) => got.push(f) }, { url: () => "" });
    socket.handleFrame({ type: "hello", seq: 7 });
    socket.handleFrame(frame(true));
    expect(got).toEqual([frame(true)]);
    expect(events).toEqual([]);
    expect(socket.lastSeq).toBe(7);
  });

  it("lasts a few seconds after each signal, ends with 'off' or with the visitor's message", () => {
    expect(typingUntil(true, 1000)).toBe(1000 + TYPING_SHOW_MS);
    expect(typingUntil(false, 1000)).toBe(0);
    const client = new QueryClient();
    applyVisitorTyping(client, frame(true).data, 1000);
    expect(client.getQueryData(keys.typing(conv))).toBe(1000 + TYPING_SHOW_MS);
    applyEphemeral(client, frame(false));
    expect(client.getQueryData(keys.typing(conv))).toBe(0);
    applyEphemeral(client, frame(true));
    expect(client.getQueryData<number>(keys.typing(conv))).toBeGreaterThan(Date.now());
    // an agent's message leaves it; the visitor's own message ends it
    const message = { id: 1, conversation_id: conv, author: "human", content: "hola" };
    applyEvent(client, { seq: 8, type: "message.created", data: message });
    expect(client.getQueryData<number>(keys.typing(conv))).toBeGreaterThan(0);
    applyEvent(client, { seq: 9, type: "message.created", data: { ...message, id: 2, author: "contact" } });
    expect(client.getQueryData(keys.typing(conv))).toBe(0);
    // unknown ephemeral types and malformed data are ignored
    applyEphemeral(client, { type: "someone.else", data: { conversation_id: conv, on: true } });
    applyEphemeral(client, { type: "visitor.typing", data: null });
    expect(client.getQueryData(keys.typing(conv))).toBe(0);
  });
});
