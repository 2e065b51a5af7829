/** The widget's side of the protocol (docs/widget.md): a session over HTTP, then the visitor
 * socket with resume (`after=`), and plain HTTP (post + poll) when the socket cannot be used. */

export interface Config {
  channel_id: string;
  name: string;
  colour: string;
  greeting: string;
  assistant_name: string;
  avatar_url: string | null;
  ask_name: boolean;
  ask_email: boolean;
  business_hours_message: string;
}

export interface Attachment {
  type: string;
  url?: string;
  filename?: string;
  mime_type?: string;
  size?: number;
}

export interface Msg {
  id: number;
  by: "visitor" | "ai" | "agent";
  text: string;
  at: string;
  attachments: Attachment[];
  status: string;
  author_name?: string | null;
  turn?: string | null;
}

export interface Session {
  visitor_id: string;
  token: string;
  identified: boolean;
  conversation_id: string | null;
  config: Config;
  messages: Msg[];
}

export type Frame = { type: string; [key: string]: unknown };

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string) {
    super(message);
  }
}

export class Api {
  token = "";
  constructor(private base: string, private channel: string) {}

  private async call<T>(method: string, path: string, body?: unknown, raw?: FormData): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(`${this.base}/widget/${this.channel}${path}`, {
      method,
      headers,
      body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
      credentials: "omit", // never the panel's cookies
      mode: "cors",
    });
    if (response.status === 204) return undefined as T;
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = data?.error ?? {};
      throw new ApiError(response.status, error.code ?? "error", error.message ?? response.statusText);
    }
    return data as T;
  }

  session(body: Record<string, unknown>): Promise<Session> {
    return this.call("POST", "/session", body);
  }
  messages(after?: number): Promise<{ conversation_id: string | null; messages: Msg[] }> {
    return this.call("GET", `/messages${after !== undefined ? `?after=${after}` : ""}`);
  }
  send(body: { client_id: string; text: string; upload_ids: string[] }): Promise<{ message: Msg; conversation_id: string }> {
    return this.call("POST", "/messages", body);
  }
  read(upTo: number): Promise<void> {
    return this.call("POST", "/read", { up_to: upTo });
  }
  typing(on: boolean): Promise<void> {
    return this.call("POST", "/typing", { on });
  }
  upload(file: File): Promise<{ upload_id: string; type: string; filename: string }> {
    const form = new FormData();
    form.append("file", file);
    return this.call("POST", "/uploads", undefined, form);
  }
  socketUrl(after: number | undefined): string {
    const url = new URL(`${this.base}/widget/${this.channel}/socket`);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("token", this.token);
    if (after !== undefined) url.searchParams.set("after", String(after));
    return url.toString();
  }
}

/** The live link: a socket that reconnects with `after=<last id>`; after repeated failures it
 * falls back to polling over HTTP (and keeps trying the socket now and then). */
export class Live {
  private ws: WebSocket | null = null;
  private failures = 0;
  private pollTimer = 0;
  private retryTimer = 0;
  private stopped = true;
  connected = false;

  constructor(
    private api: Api,
    private lastId: () => number | undefined,
    private onFrame: (frame: Frame) => void,
    private onState: (online: boolean) => void,
    private pollEvery: () => number,
  ) {}

  start(): void {
    if (!this.stopped) return; // already live (or polling)
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    this.ws?.close();
    clearTimeout(this.pollTimer);
    clearTimeout(this.retryTimer);
  }

  send(frame: Frame): boolean {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  private open(): void {
    if (this.stopped || typeof WebSocket === "undefined") return this.poll();
    const ws = new WebSocket(this.api.socketUrl(this.lastId()));
    this.ws = ws;
    ws.onopen = () => {
      this.failures = 0;
      this.connected = true;
      clearTimeout(this.pollTimer);
      this.onState(true);
    };
    ws.onmessage = (event) => {
      try {
        this.onFrame(JSON.parse(String(event.data)) as Frame);
      } catch {
        /* a frame we cannot read is skipped */
      }
    };
    ws.onclose = (event) => {
      this.connected = false;
      this.ws = null;
      if (this.stopped || event.code === 4401 || event.code === 4403 || event.code === 4404) return;
      this.failures += 1;
      if (this.failures >= 3) this.poll();
      const delay = Math.min(30_000, 500 * 2 ** Math.min(this.failures, 6)) * (0.75 + Math.random() / 2);
      this.retryTimer = window.setTimeout(() => this.open(), delay);
    };
  }

  /** The HTTP fallback: what arrived after the last message, every few seconds. */
  private poll(): void {
    clearTimeout(this.pollTimer);
    if (this.stopped || this.connected) return;
    this.api
      .messages(this.lastId())
      .then((page) => {
        this.onState(true);
        for (const message of page.messages) this.onFrame({ type: "message", message });
      })
      .catch(() => this.onState(false))
      .finally(() => {
        if (!this.connected && !this.stopped) this.pollTimer = window.setTimeout(() => this.poll(), this.pollEvery());
      });
  }
}
