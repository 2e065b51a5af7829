// A small fetch wrapper: same-origin cookies, the CSRF header on unsafe methods, typed errors.

/** One field's validation error: `type` is a stable code (pydantic's, or the server's own such as
 * `phone_format`), `ctx` its limits (`max_length`...); the message is the server's English. */
export interface FieldError {
  field: string;
  message: string;
  type?: string;
  ctx?: Record<string, string | number | boolean>;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: FieldError[] = [],
    /** The error body's other fields (a closed window's `templates`...). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }

  /** The error of one field of the request (`display_name`, `phone`...), if any. */
  fieldError(field: string): FieldError | undefined {
    return this.details.find((d) => d.field === field || d.field.endsWith(`.${field}`));
  }
}

let csrfToken: string | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** For requests made outside `request` (an upload that reports its progress). */
export function getCsrfToken(): string | null {
  return csrfToken;
}

/** Called when the server says the session is gone, so the app can show the login page. */
let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

export interface RawResponse<T> {
  data: T;
  headers: Headers;
}

export async function requestRaw<T>(method: string, path: string, body?: unknown): Promise<RawResponse<T>> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const multipart = body instanceof FormData; // the browser sets its Content-Type with the boundary
  if (body !== undefined && !multipart) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : multipart ? body : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network_error", "network error");
  }
  if (response.status === 204) return { data: undefined as T, headers: response.headers };
  const text = await response.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!response.ok) {
    const err = (json as { error?: { code?: string; message?: string; details?: FieldError[] } } | null)?.error;
    if (response.status === 401 && !path.startsWith("/api/auth/login")) onUnauthorized();
    const { code, message, details, ...extra } = err ?? {};
    throw new ApiError(response.status, code ?? `http_${response.status}`, message ?? response.statusText,
      details ?? [], extra);
  }
  return { data: json as T, headers: response.headers };
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  return (await requestRaw<T>(method, path, body)).data;
}

/** POST a file as the multipart field `file`, reporting the upload's progress (0..1), which fetch
 * cannot; errors as `request`'s. */
export function uploadWithProgress<T>(path: string, file: File, onProgress: (fraction: number) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.withCredentials = true;
    xhr.setRequestHeader("Accept", "application/json");
    if (csrfToken) xhr.setRequestHeader("X-CSRF-Token", csrfToken);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      let body: unknown = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(body as T);
        return;
      }
      const err = (body as { error?: { code?: string; message?: string; details?: FieldError[] } } | null)?.error;
      if (xhr.status === 401) onUnauthorized();
      reject(new ApiError(xhr.status, err?.code ?? `http_${xhr.status}`, err?.message ?? xhr.statusText, err?.details ?? []));
    };
    xhr.onerror = () => reject(new ApiError(0, "network_error", "network error"));
    const form = new FormData();
    form.append("file", file);
    xhr.send(form);
  });
}

export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const s = search.toString();
  return s ? `?${s}` : "";
}
