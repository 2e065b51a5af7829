import { describe, expect, it } from "vitest";
import { backoffDelay, classifyFrame, EventSocket, eventsUrl, type ServerEvent, type SocketState } from "./socket";

describe("backoffDelay", () => {
  it("doubles from half a second up to thirty seconds", () => {
    const max = () => 1;
    expect([0, 1, 2, 3, 10, 20].map((a) => backoffDelay(a, max))).toEqual([500, 1000, 2000, 4000, 30000, 30000]);
  });
  it("keeps at least half of the ceiling, randomising the rest", () => {
    expect(backoffDelay(3, () => 0)).toBe(2000);
    expect(backoffDelay(3, () => 0.5)).toBe(3000);
  });
});

describe("eventsUrl", () => {
  it("resumes after the last sequence, over wss on https", () => {
    expect(eventsUrl({ protocol: "http:", host: "x:8000" }, null)).toBe("ws://x:8000/ws/events");
    expect(eventsUrl({ protocol: "https:", host: "x" }, 42)).toBe("wss://x/ws/events?after=42");
  });
});

describe("classifyFrame", () => {
  it("drops replayed events already applied", () => {
    expect(classifyFrame({ seq: 5, type: "message.created", data: {} }, 5).kind).toBe("ignore");
    expect(classifyFrame({ seq: 6, type: "message.created", data: {} }, 5).kind).toBe("event");
    expect(classifyFrame({ type: "ping" }, 5).kind).toBe("ignore");
    expect(classifyFrame({ type: "resync" }, 5)).toEqual({ kind: "resync", seq: null });
  });
});

class FakeSocket {
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  closed = false;
  constructor(readonly url: string) {}
  close() { this.closed = true; }
  send(frame: object) { this.onmessage?.({ data: JSON.stringify(frame) }); }
  drop(code = 1006) { this.onclose?.({ code }); }
}

function harness() {
  const sockets: FakeSocket[] = [];
  const timers: Array<{ fn: () => void; ms: number }> = [];
  const events: ServerEvent[] = [];
  const states: SocketState[] = [];
  let resyncs = 0;
  let firstLive = 0;
  const socket = new EventSocket(
    { onEvent: (e) => events.push(e), onResync: () => { resyncs += 1; }, onState: (s) => states.push(s),
      onFirstLive: () => { firstLive += 1; } },
    {
      url: (after) => `ws://h/ws/events${after === null ? "" : `?after=${after}`}`,
      create: (url) => { const s = new FakeSocket(url); sockets.push(s); return s; },
      setTimer: (fn, ms) => { timers.push({ fn, ms }); return timers.length; },
      clearTimer: () => {},
      random: () => 1,
    },
  );
  return { socket, sockets, timers, events, states, resyncs: () => resyncs, firstLive: () => firstLive };
}

describe("EventSocket", () => {
  it("starts from the server's head, then resumes after the last event it applied", () => {
    const h = harness();
    h.socket.start();
    expect(h.sockets[0].url).toBe("ws://h/ws/events");
    h.sockets[0].send({ type: "hello", seq: 10 });
    h.sockets[0].send({ seq: 11, type: "message.created", data: { id: 1 } });
    expect(h.states.at(-1)).toBe("open");
    h.sockets[0].drop();
    expect(h.states.at(-1)).toBe("reconnecting");
    expect(h.timers[0].ms).toBe(500);
    h.timers[0].fn();
    expect(h.sockets[1].url).toBe("ws://h/ws/events?after=11");
    // The replay overlaps: the duplicate is dropped, the new one applied.
    h.sockets[1].send({ type: "hello", seq: 12 });
    h.sockets[1].send({ seq: 11, type: "message.created", data: { id: 1 } });
    h.sockets[1].send({ seq: 12, type: "message.created", data: { id: 2 } });
    expect(h.events.map((e) => e.seq)).toEqual([11, 12]);
  });

  it("reloads the lists once when first live, not on reconnects that resume by seq", () => {
    const h = harness();
    h.socket.start();
    expect(h.firstLive()).toBe(0);
    h.sockets[0].send({ type: "hello", seq: 4 });
    expect(h.firstLive()).toBe(1);
    h.sockets[0].drop();
    h.timers[0].fn();
    h.sockets[1].send({ type: "hello", seq: 9 });
    expect(h.firstLive()).toBe(1);
    expect(h.sockets[1].url).toBe("ws://h/ws/events?after=4");
  });

  it("backs off while the server is down and resets once connected", () => {
    const h = harness();
    h.socket.start();
    h.sockets[0].send({ type: "hello", seq: 0 });
    for (let i = 0; i < 4; i++) {
      h.sockets.at(-1)!.drop();
      h.timers.at(-1)!.fn();
    }
    expect(h.timers.map((t) => t.ms)).toEqual([500, 1000, 2000, 4000]);
    h.sockets.at(-1)!.send({ type: "hello", seq: 0 });
    h.sockets.at(-1)!.drop();
    expect(h.timers.at(-1)!.ms).toBe(500);
  });

  it("reconnects at once when dropped as slow, and stops when unauthenticated", () => {
    const h = harness();
    h.socket.start();
    h.sockets[0].send({ type: "hello", seq: 3 });
    h.sockets[0].drop(4408);
    expect(h.timers[0].ms).toBe(0);
    h.timers[0].fn();
    h.sockets[1].drop(4401);
    expect(h.states.at(-1)).toBe("unauthorized");
    expect(h.timers).toHaveLength(1);
  });

  it("asks for a reload on resync and continues from the head", () => {
    const h = harness();
    h.socket.start();
    h.sockets[0].send({ type: "hello", seq: 2 });
    h.sockets[0].drop();
    h.timers[0].fn();
    h.sockets[1].send({ type: "hello", seq: 900 });
    h.sockets[1].send({ type: "resync" });
    expect(h.resyncs()).toBe(1);
    expect(h.socket.lastSeq).toBe(900);
  });

  it("starts afresh, reloading, when the server refuses the resume point", () => {
    const h = harness();
    h.socket.start();
    h.sockets[0].send({ type: "hello", seq: 7 });
    h.sockets[0].drop(4400);
    expect(h.resyncs()).toBe(1);
    h.timers[0].fn();
    expect(h.sockets[1].url).toBe("ws://h/ws/events");
  });

  it("stop() closes the socket and never reconnects", () => {
    const h = harness();
    h.socket.start();
    h.socket.stop();
    expect(h.sockets[0].closed).toBe(true);
    expect(h.timers).toHaveLength(0);
  });
});
