// Uploads for the chatbot's tools, with progress (api/client.ts's uploadWithProgress).
import { ApiError, uploadWithProgress } from "../api/client";
import type { Attachment } from "./protocol";

export async function uploadFile(file: File, onProgress: (fraction: number) => void): Promise<Attachment & { size: number }> {
  const body = await uploadWithProgress<{ name?: string; path?: string; size?: number }>("/api/chat/uploads", file, onProgress);
  if (!body?.path) throw new ApiError(500, "invalid_upload", "the upload answered no path");
  return { name: body.name ?? file.name, path: body.path, size: body.size ?? file.size };
}
