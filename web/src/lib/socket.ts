// The tab's one event socket: resumes with `?after=<last seq>`, reconnects with capped exponential
// backoff and jitter, and tells the app when it must reload (resync) or log in again (4401).
import type { EventFrame } from "../api/types";

export type SocketState = "connecting" | "open" | "reconnecting" | "offline" | "unauthorized" | "forbidden";

export interface ServerEvent {
  seq: number;
  type: string;
  data: unknown;
  at?: string;
}

/** A frame without a seq (`visitor.typing`): live only, never stored nor replayed, and it moves no
 * `lastSeq`. */
export interface EphemeralFrame {
  type: string;
  data: unknown;
}

export const CLOSE_UNAUTHENTICATED = 4401;
export const CLOSE_BAD_ORIGIN = 4403;
export const CLOSE_TOO_SLOW = 4408;
export const CLOSE_BAD_REQUEST = 4400;

/** Delay before reconnect attempt `attempt` (0-based): 0.5 s doubling to 30 s, with "equal jitter"
 * (half fixed, half random) so a server restart is not met by every tab at the same instant. */
export function backoffDelay(attempt: number, random: () => number = Math.random, baseMs = 500, capMs = 30_000):
  number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export function eventsUrl(location: { protocol: string; host: string }, after: number | null): string {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/ws/events${after !== null ? `?after=${after}` : ""}`;
}

/** What the client should do with one frame, given the last sequence it has applied. */
export type FrameAction =
  | { kind: "hello"; seq: number }
  | { kind: "ephemeral"; frame: EphemeralFrame }
  | { kind: "resync"; seq: number | null }
  | { kind: "event"; event: ServerEvent }
  | { kind: "ignore" }
  | { kind: "error"; message: string };

export function classifyFrame(frame: EventFrame, lastSeq: number | null): FrameAction {
  switch (frame.type) {
    case "hello":
      return { kind: "hello", seq: (frame as { seq: number }).seq };
    case "resync":
      return { kind: "resync", seq: typeof (frame as { seq?: number }).seq === "number" ? (frame as { seq: number }).seq : null };
    case "ping":
      return { kind: "ignore" };
    case "error":
      return { kind: "error", message: (frame as { message?: string }).message ?? "error" };
  }
  const seq = (frame as { seq?: unknown }).seq;
  if (seq === undefined && typeof frame.type === "string" && "data" in frame) {
    return { kind: "ephemeral", frame: frame as EphemeralFrame };
  }
  if (typeof seq !== "number") return { kind: "ignore" };
  // A replay may overlap what was already applied: drop duplicates.
  if (lastSeq !== null && seq <= lastSeq) return { kind: "ignore" };
  return { kind: "event", event: frame as ServerEvent };
}

export interface SocketHandlers {
  onEvent(event: ServerEvent): void;
  /** A live-only frame (no seq): shown while it lasts, nothing to resume. */
  onEphemeral?(frame: EphemeralFrame): void;
  /** The server cannot replay what was missed: reload every list. */
  onResync(): void;
  onState(state: SocketState): void;
  /** The first connection is live: what committed between the lists' REST load and this moment
   *  was never streamed to us, so reload what is shown once (later reconnects resume by seq). */
  onFirstLive?(): void;
}

interface SocketLike {
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  close(code?: number): void;
}

export interface EventSocketOptions {
  url: (after: number | null) => string;
  create?: (url: string) => SocketLike;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
  random?: () => number;
}

export class EventSocket {
  private socket: SocketLike | null = null;
  private attempt = 0;
  private timer: unknown = null;
  private stopped = false;
  private everOpened = false;
  private helloSeq: number | null = null;
  lastSeq: number | null = null;
  state: SocketState = "connecting";

  constructor(private readonly handlers: SocketHandlers, private readonly options: EventSocketOptions) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.clearPending();
    const s = this.socket;
    this.socket = null;
    if (s) {
      s.onclose = null;
      s.close(1000);
    }
  }

  /** Reconnect now (the browser came back online or the tab became visible). */
  nudge(): void {
    if (this.stopped || this.state === "open" || this.state === "connecting") return;
    if (this.state === "unauthorized" || this.state === "forbidden") return;
    this.clearPending();
    this.connect();
  }

  private clearPending(): void {
    if (this.timer !== null) (this.options.clearTimer ?? clearTimeout)(this.timer as ReturnType<typeof setTimeout>);
    this.timer = null;
  }

  private setState(state: SocketState): void {
    if (state === this.state) return;
    this.state = state;
    this.handlers.onState(state);
  }

  private connect(): void {
    const create = this.options.create ?? ((url: string) => new WebSocket(url) as unknown as SocketLike);
    this.setState(this.everOpened ? "reconnecting" : "connecting");
    const socket = create(this.options.url(this.lastSeq));
    this.socket = socket;
    socket.onmessage = (ev) => {
      if (socket !== this.socket || typeof ev.data !== "string") return;
      let frame: EventFrame;
      try {
        frame = JSON.parse(ev.data) as EventFrame;
      } catch {
        return;
      }
      this.handleFrame(frame);
    };
    socket.onclose = (ev) => {
      if (socket !== this.socket) return;
      this.socket = null;
      if (this.stopped) return;
      if (ev.code === CLOSE_UNAUTHENTICATED) return this.setState("unauthorized");
      if (ev.code === CLOSE_BAD_ORIGIN) return this.setState("forbidden");
      if (ev.code === CLOSE_BAD_REQUEST && this.lastSeq !== null) {
        // The server refused our `after`: start again from its head and reload what is shown.
        this.lastSeq = null;
        this.handlers.onResync();
      }
      this.scheduleReconnect(ev.code === CLOSE_TOO_SLOW);
    };
    socket.onerror = () => {
      /* onclose follows and decides */
    };
  }

  handleFrame(frame: EventFrame): void {
    const action = classifyFrame(frame, this.lastSeq);
    switch (action.kind) {
      case "hello":
        // First connection: start from the server's head, and reload the lists once so nothing
        // committed between their REST load and this hello is missed.
        this.helloSeq = action.seq;
        if (this.lastSeq === null) {
          this.lastSeq = action.seq;
          if (!this.everOpened) this.handlers.onFirstLive?.();
        }
        this.attempt = 0;
        this.everOpened = true;
        this.setState("open");
        return;
      case "resync":
        // After reloading, continue from the server's head as of this connection.
        this.lastSeq = action.seq ?? this.helloSeq;
        this.handlers.onResync();
        return;
      case "event":
        this.lastSeq = action.event.seq;
        this.handlers.onEvent(action.event);
        return;
      case "ephemeral":
        this.handlers.onEphemeral?.(action.frame);
        return;
      default:
        return;
    }
  }

  private scheduleReconnect(immediate: boolean): void {
    this.setState(this.everOpened ? "reconnecting" : "offline");
    const delay = immediate ? 0 : backoffDelay(this.attempt, this.options.random);
    this.attempt += 1;
    this.timer = (this.options.setTimer ?? setTimeout)(() => {
      this.timer = null;
      if (!this.stopped) this.connect();
    }, delay);
  }
}
