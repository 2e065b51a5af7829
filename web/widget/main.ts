/** Tertulia's web chat widget: one `<script src=".../widget/widget.js" data-channel="<id>" async>`.
 *
 * No framework: a launcher and a panel in a shadow root. A site that knows its user sets
 * `window.tertuliaSettings = {identifier, identifier_hash, name, email}` (the hash made on its
 * server with the channel's secret) or the same as `data-*` attributes on the tag. */
import { Api, ApiError, Live, type Config, type Frame, type Msg, type Session } from "./api";
import { pageLanguage, wordsFor, type Words } from "./i18n";
import { STYLES } from "./styles";

declare global {
  interface Window {
    tertuliaSettings?: Record<string, string | undefined>;
    TertuliaWidget?: { open(): void; close(): void };
  }
}

const ICON_CHAT =
  '<svg width="26" height="26" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" aria-hidden="true"><path d="M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12Z"/></svg>';
const ICON_X =
  '<svg width="22" height="22" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" aria-hidden="true"><path d="M6 6l12 12M18 6 6 18"/></svg>';
const ICON_SEND =
  '<svg width="20" height="20" viewBox="0 0 24 24" fill="currentColor" aria-hidden="true"><path d="M3 20.5 21 12 3 3.5 3 10l12 2-12 2z"/></svg>';
const ICON_CLIP =
  '<svg width="20" height="20" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" aria-hidden="true"><path d="m21 11-8.5 8.5a5 5 0 0 1-7-7L14 4a3.5 3.5 0 0 1 5 5l-8.5 8.5a2 2 0 0 1-3-3L15 7"/></svg>';

interface Pending {
  clientId: string;
  text: string;
  uploads: string[];
  failed: boolean;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text?: string) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function newId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

class Widget {
  private root: ShadowRoot;
  private w: Words;
  private cfg!: Config;
  private messages = new Map<number, Msg>();
  private pending = new Map<string, Pending>();
  private streams = new Map<string, string>(); // the AI's reply being written, by turn
  private live!: Live;
  private open = false;
  private unread = 0;
  private agentTyping = 0;
  private agentTypingName = "";
  private typingSent = 0;
  private conversation: string | null = null;
  private readSent = 0;
  // elements
  private launcher!: HTMLButtonElement;
  private badge!: HTMLSpanElement;
  private panel!: HTMLDivElement;
  private log!: HTMLDivElement;
  private input!: HTMLTextAreaElement;
  private statusBar!: HTMLDivElement;
  private file!: HTMLInputElement;

  constructor(
    private api: Api,
    private storageKey: string,
    private identity: Record<string, string | undefined>,
    host: HTMLElement,
  ) {
    this.root = host.attachShadow({ mode: "open" });
    this.w = wordsFor(pageLanguage(document, navigator));
  }

  async start(): Promise<void> {
    let session: Session;
    const stored = this.storedVisitor();
    try {
      session = await this.api.session({ visitor_id: stored, ...this.identity });
    } catch (error) {
      // Refused here (not one of the channel's sites, or no such channel): the widget stays away.
      console.warn("Tertulia widget:", error instanceof ApiError ? error.message : error);
      return;
    }
    this.api.token = session.token;
    try {
      localStorage.setItem(this.storageKey, session.visitor_id);
    } catch {
      /* storage blocked: this page view only */
    }
    this.cfg = session.config;
    this.conversation = session.conversation_id;
    for (const m of session.messages) this.messages.set(m.id, m);
    this.render();
    this.live = new Live(
      this.api,
      () => this.lastId(),
      (frame) => this.onFrame(frame),
      (online) => this.setOnline(online),
      () => (this.open ? 3000 : 15000),
    );
    if (this.conversation) this.live.start();
  }

  private storedVisitor(): string | undefined {
    try {
      return localStorage.getItem(this.storageKey) ?? undefined;
    } catch {
      return undefined;
    }
  }

  private lastId(): number | undefined {
    let last: number | undefined;
    for (const id of this.messages.keys()) if (last === undefined || id > last) last = id;
    return last;
  }

  // ---- the frame ------------------------------------------------------------------------

  private render(): void {
    const style = el("style");
    style.textContent = STYLES;
    const wrap = el("div");
    wrap.style.setProperty("--c", this.cfg.colour);
    const titleId = "tw-title";
    this.panel = el("div", { class: "panel", role: "dialog", "aria-modal": "true", "aria-labelledby": titleId }) as HTMLDivElement;
    this.panel.hidden = true;
    const header = el("header");
    const name = this.cfg.assistant_name || this.cfg.name;
    if (this.cfg.avatar_url) header.append(el("img", { src: this.cfg.avatar_url, alt: "" }));
    else header.append(el("span", { class: "avatar", "aria-hidden": "true" }, name.slice(0, 1).toUpperCase()));
    const h2 = el("h2", { id: titleId }, name);
    h2.append(el("span", { class: "sub" }, this.cfg.name !== name ? this.cfg.name : this.w.title));
    const close = el("button", { class: "x", type: "button", "aria-label": this.w.close });
    close.innerHTML = ICON_X;
    close.onclick = () => this.toggle(false);
    header.append(h2, close);
    this.statusBar = el("div", { class: "status", role: "status" }) as HTMLDivElement;
    this.statusBar.hidden = true;
    this.log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": this.w.messages }) as HTMLDivElement;
    const compose = el("form", { class: "compose" });
    this.file = el("input", { type: "file", class: "sr", tabindex: "-1", "aria-hidden": "true",
      accept: "image/jpeg,image/png,image/gif,image/webp,.pdf,.docx,.xlsx,.txt,.csv" }) as HTMLInputElement;
    const clip = el("button", { class: "icon", type: "button", "aria-label": this.w.attach });
    clip.innerHTML = ICON_CLIP;
    clip.onclick = () => this.file.click();
    this.file.onchange = () => this.attach();
    const label = el("label", { class: "sr", for: "tw-input" }, this.w.input);
    this.input = el("textarea", { id: "tw-input", rows: "1", placeholder: this.w.input, maxlength: "4000" }) as HTMLTextAreaElement;
    this.input.onkeydown = (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        compose.requestSubmit();
      }
    };
    this.input.oninput = () => {
      this.input.style.height = "auto";
      this.input.style.height = `${Math.min(120, this.input.scrollHeight)}px`;
      this.sendTyping();
    };
    const send = el("button", { class: "icon send", type: "submit", "aria-label": this.w.send });
    send.innerHTML = ICON_SEND;
    compose.onsubmit = (e) => {
      e.preventDefault();
      const text = this.input.value.trim();
      if (!text) return;
      this.input.value = "";
      this.input.style.height = "auto";
      this.typingSent = 0;
      void this.submit(text, []);
    };
    compose.append(this.file, clip, label, this.input, send);
    this.panel.append(header, this.statusBar, this.log, compose);
    this.panel.addEventListener("keydown", (e) => this.trapKeys(e));
    this.launcher = el("button", { class: "launcher", type: "button", "aria-label": this.w.open,
      "aria-expanded": "false", "aria-haspopup": "dialog" }) as HTMLButtonElement;
    this.launcher.innerHTML = ICON_CHAT;
    this.badge = el("span", { class: "badge", "aria-hidden": "true" }) as HTMLSpanElement;
    this.badge.hidden = true;
    this.launcher.append(this.badge);
    this.launcher.onclick = () => this.toggle(!this.open);
    wrap.append(this.panel, this.launcher);
    this.root.append(style, wrap);
    this.paint();
  }

  /** Focus stays in the open panel (Tab cycles); Escape closes it and gives focus back. */
  private trapKeys(e: KeyboardEvent): void {
    if (e.key === "Escape") {
      e.preventDefault();
      this.toggle(false);
      return;
    }
    if (e.key !== "Tab") return;
    const items = Array.from(this.panel.querySelectorAll<HTMLElement>("button,textarea,input:not([type=file]),a[href]"))
      .filter((n) => !n.hasAttribute("disabled") && n.offsetParent !== null);
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    const active = this.root.activeElement;
    if (e.shiftKey && active === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && active === last) {
      e.preventDefault();
      first.focus();
    }
  }

  toggle(open: boolean): void {
    if (!this.cfg) return;
    this.open = open;
    this.panel.hidden = !open;
    this.launcher.setAttribute("aria-expanded", String(open));
    this.launcher.setAttribute("aria-label", open ? this.w.close : this.w.open);
    this.launcher.innerHTML = open ? ICON_X : ICON_CHAT;
    this.launcher.append(this.badge);
    if (open) {
      this.unread = 0;
      this.paint();
      this.live.start();
      const pre = this.panel.querySelector<HTMLInputElement>("form.pre input");
      (pre ?? this.input).focus();
      this.markRead();
    } else {
      this.launcher.focus();
    }
  }

  // ---- what the server says -------------------------------------------------------------

  private onFrame(frame: Frame): void {
    switch (frame.type) {
      case "hello": {
        this.conversation = (frame.conversation_id as string | null) ?? this.conversation;
        for (const m of frame.messages as Msg[]) this.take(m);
        break;
      }
      case "message":
        this.take(frame.message as Msg);
        break;
      case "sent": {
        this.pending.delete(frame.client_id as string);
        this.conversation = frame.conversation_id as string;
        this.take(frame.message as Msg);
        break;
      }
      case "ai_start":
        this.streams.set(frame.turn as string, "");
        break;
      case "ai_delta":
        this.streams.set(frame.turn as string, (this.streams.get(frame.turn as string) ?? "") + (frame.text as string));
        break;
      case "ai_discard":
        this.streams.set(frame.turn as string, "");
        break;
      case "ai_end":
        if (frame.outcome !== "sent") this.streams.delete(frame.turn as string);
        break;
      case "typing":
        this.agentTyping = frame.on ? Date.now() + 6000 : 0;
        this.agentTypingName = (frame.name as string | undefined) || "";
        if (frame.on) setTimeout(() => this.paint(), 6100);
        break;
      case "read":
        for (const m of this.messages.values()) if (m.by === "visitor") m.status = "read";
        break;
      case "error": {
        const pending = frame.client_id ? this.pending.get(frame.client_id as string) : undefined;
        if (pending) pending.failed = true;
        if (frame.code === "rate_limited" || frame.code === "too_many_requests") this.flash(this.w.tooMany);
        break;
      }
      default:
        return;
    }
    this.paint();
  }

  private take(m: Msg): void {
    const known = this.messages.get(m.id);
    if (!known && m.by !== "visitor" && !this.open) this.unread += 1;
    if (m.turn) this.streams.delete(m.turn);
    // A new reply ends "typing"; a known one coming back with its receipt (delivered, read) does not.
    if (!known && m.by !== "visitor") this.agentTyping = 0;
    this.messages.set(m.id, m);
    if (this.open) this.markRead();
  }

  private markRead(): void {
    let upTo = 0;
    for (const m of this.messages.values()) if (m.by !== "visitor" && m.status !== "read" && m.id > upTo) upTo = m.id;
    if (!upTo || upTo <= this.readSent || document.visibilityState === "hidden") return;
    this.readSent = upTo;
    if (!this.live.send({ type: "read", up_to: upTo })) void this.api.read(upTo).catch(() => undefined);
  }

  private setOnline(online: boolean): void {
    this.statusBar.hidden = online;
    this.statusBar.textContent = online ? "" : this.w.offline;
  }

  private flash(text: string): void {
    this.statusBar.hidden = false;
    this.statusBar.textContent = text;
    setTimeout(() => (this.statusBar.hidden = true), 4000);
  }

  // ---- what the visitor does ------------------------------------------------------------

  // "typing" at most every 3 s while there is text; "off" once when the box is emptied (a send
  // needs none: the message's arrival ends it), so the next keystroke says "typing" at once.
  private sendTyping(): void {
    if (!this.conversation) return;
    if (!this.input.value.trim()) {
      if (this.typingSent) this.signalTyping(false);
      this.typingSent = 0;
      return;
    }
    if (Date.now() - this.typingSent < 3000) return;
    this.typingSent = Date.now();
    this.signalTyping(true);
  }

  private signalTyping(on: boolean): void {
    if (!this.live.send({ type: "typing", on })) void this.api.typing(on).catch(() => undefined);
  }

  private async submit(text: string, uploads: string[], clientId = newId()): Promise<void> {
    const pending: Pending = { clientId, text, uploads, failed: false };
    this.pending.set(clientId, pending);
    this.paint();
    if (this.live.send({ type: "send", client_id: clientId, text, upload_ids: uploads })) return;
    try {
      const sent = await this.api.send({ client_id: clientId, text, upload_ids: uploads });
      this.onFrame({ type: "sent", client_id: clientId, ...sent });
      this.live.start();
    } catch (error) {
      pending.failed = true;
      if (error instanceof ApiError && error.status === 429) this.flash(this.w.tooMany);
      this.paint();
    }
  }

  private async attach(): Promise<void> {
    const file = this.file.files?.[0];
    this.file.value = "";
    if (!file) return;
    if (file.size > 10 * 2 ** 20) return this.flash(this.w.tooBig);
    try {
      const up = await this.api.upload(file);
      await this.submit("", [up.upload_id]);
    } catch (error) {
      this.flash(error instanceof ApiError && error.status === 415 ? this.w.badFile : this.w.offline);
    }
  }

  private prechat(): HTMLElement | null {
    const want = (this.cfg.ask_name && !this.identity.name) || (this.cfg.ask_email && !this.identity.email);
    if (!want || this.conversation || this.messages.size || this.pending.size || this.identity.prechat_done) return null;
    const form = el("form", { class: "pre" });
    form.append(el("span", {}, this.w.prechat));
    const fields: HTMLInputElement[] = [];
    if (this.cfg.ask_name) fields.push(el("input", { name: "name", autocomplete: "name", "aria-label": this.w.name, placeholder: this.w.name, maxlength: "200" }) as HTMLInputElement);
    if (this.cfg.ask_email) fields.push(el("input", { name: "email", type: "email", autocomplete: "email", "aria-label": this.w.email, placeholder: this.w.email, maxlength: "254" }) as HTMLInputElement);
    form.append(...fields, el("button", { type: "submit" }, this.w.start));
    form.onsubmit = async (e) => {
      e.preventDefault();
      for (const f of fields) if (f.value.trim() && f.checkValidity()) this.identity[f.name] = f.value.trim();
      this.identity.prechat_done = "1";
      try {
        const session = await this.api.session({ visitor_id: this.storedVisitor(), ...this.identity, prechat_done: undefined });
        this.api.token = session.token;
      } catch {
        /* the anonymous session goes on */
      }
      this.paint();
      this.input.focus();
    };
    return form;
  }

  // ---- drawing ----------------------------------------------------------------------------

  private paint(): void {
    if (!this.log) return;
    this.badge.hidden = this.unread === 0;
    this.badge.textContent = String(this.unread);
    const atBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 40;
    const nodes: HTMLElement[] = [];
    if (this.cfg.greeting) nodes.push(el("div", { class: "note" }, this.cfg.greeting));
    if (this.cfg.business_hours_message) nodes.push(el("div", { class: "note hours" }, this.cfg.business_hours_message));
    const pre = this.prechat();
    if (pre) nodes.push(pre);
    const sorted = [...this.messages.values()].sort((a, b) => a.id - b.id);
    let lastBy = "";
    sorted.forEach((m, n) => {
      const mine = m.by === "visitor";
      const row = el("div", { class: `row ${mine ? "me" : "them"}` });
      if (!mine && lastBy !== m.by + (m.author_name ?? "")) {
        row.append(el("span", { class: "who" }, m.by === "agent" ? m.author_name || this.cfg.name : this.cfg.assistant_name));
      }
      lastBy = m.by + (m.author_name ?? "");
      const bubble = el("div", { class: "b" });
      if (m.text) bubble.append(document.createTextNode(m.text));
      for (const a of m.attachments) {
        if (!a.url) continue;
        if (a.type === "image") bubble.append(el("img", { src: a.url, alt: a.filename ?? this.w.file, loading: "lazy" }));
        else bubble.append(el("a", { href: a.url, target: "_blank", rel: "noopener" }, `📎 ${a.filename ?? this.w.file}`));
      }
      row.append(bubble);
      const isLastMine = mine && !sorted.slice(n + 1).some((x) => x.by === "visitor");
      if (isLastMine && m.status === "read") row.append(el("span", { class: "meta" }, this.w.seen));
      nodes.push(row);
    });
    for (const p of this.pending.values()) {
      const row = el("div", { class: "row me" });
      row.append(el("div", { class: "b" }, p.text || "📎"));
      const meta = el("span", { class: `meta${p.failed ? " err" : ""}` }, p.failed ? this.w.failed : this.w.sending);
      if (p.failed) {
        meta.setAttribute("role", "button");
        meta.tabIndex = 0;
        meta.onclick = () => {
          this.pending.delete(p.clientId);
          void this.submit(p.text, p.uploads, p.clientId);
        };
      }
      row.append(meta);
      nodes.push(row);
    }
    for (const text of this.streams.values()) {
      const row = el("div", { class: "row them", "aria-busy": "true" });
      const bubble = el("div", { class: "b" });
      if (text) bubble.textContent = text;
      else bubble.innerHTML = `<span class="dots" aria-label="${this.w.aiTyping}"><i></i><i></i><i></i></span>`;
      row.append(bubble);
      nodes.push(row);
    }
    if (this.agentTyping > Date.now() && !this.streams.size) {
      const row = el("div", { class: "row them" });
      row.append(el("span", { class: "who" }, `${this.agentTypingName || this.cfg.name} ${this.w.typing}`));
      nodes.push(row);
    }
    const focused = this.root.activeElement;
    this.log.replaceChildren(...nodes);
    if (focused instanceof HTMLElement && !this.log.contains(focused) && focused.isConnected) focused.focus();
    if (atBottom || this.streams.size) this.log.scrollTop = this.log.scrollHeight;
  }
}

function boot(): void {
  const script =
    (document.currentScript as HTMLScriptElement | null) ??
    document.querySelector<HTMLScriptElement>("script[data-channel][src*='/widget/widget.js']");
  const channel = script?.dataset.channel;
  if (!script || !channel || document.querySelector("tertulia-widget")) return;
  const base = new URL(script.src).origin;
  const data = script.dataset;
  const identity: Record<string, string | undefined> = {
    identifier: data.identifier,
    identifier_hash: data.identifierHash,
    name: data.name,
    email: data.email,
    ...(window.tertuliaSettings ?? {}),
  };
  for (const key of Object.keys(identity)) if (!identity[key]) delete identity[key];
  const start = () => {
    const host = document.createElement("tertulia-widget");
    document.body.append(host);
    const widget = new Widget(new Api(base, channel), `tertulia:${channel}:visitor`, identity, host);
    window.TertuliaWidget = { open: () => widget.toggle(true), close: () => widget.toggle(false) };
    void widget.start();
  };
  // Never in the way of the page: after it has loaded, when the browser is idle.
  const later = () => ("requestIdleCallback" in window ? requestIdleCallback(start, { timeout: 2000 }) : setTimeout(start, 1));
  if (document.readyState === "complete") later();
  else addEventListener("load", later, { once: true });
}

boot();
