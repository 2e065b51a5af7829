// Uploads for the chatbot's tools, with progress (fetch cannot report an upload's progress).
import { ApiError, getCsrfToken } from "../api/client";
import type { Attachment } from "./protocol";

export function uploadFile(file: File, onProgress: (fraction: number) => void): Promise<Attachment & { size: number }> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/chat/uploads");
    xhr.withCredentials = true;
    const csrf = getCsrfToken();
    if (csrf) xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      let body: { name?: string; path?: string; size?: number; error?: { code?: string; message?: string } } = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = {};
      }
      if (xhr.status === 200 && body.path) {
        resolve({ name: body.name ?? file.name, path: body.path, size: body.size ?? file.size });
      } else {
        reject(new ApiError(xhr.status, body.error?.code ?? `http_${xhr.status}`, body.error?.message ?? xhr.statusText));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, "network_error", "network error"));
    const form = new FormData();
    form.append("file", file);
    xhr.send(form);
  });
}
