/** The widget's words, in the page's language (Spanish unless the page says English). */
const es = {
  open: "Abrir el chat",
  close: "Cerrar el chat",
  title: "Chat",
  input: "Escribe un mensaje",
  send: "Enviar",
  attach: "Adjuntar un archivo",
  typing: "está escribiendo…",
  aiTyping: "escribiendo…",
  you: "Tú",
  seen: "Visto",
  delivered: "Entregado",
  sending: "Enviando…",
  failed: "No se envió. Toca para reintentar.",
  name: "Tu nombre (opcional)",
  email: "Tu correo (opcional)",
  start: "Empezar",
  prechat: "Cuéntanos quién eres, si quieres:",
  offline: "Sin conexión. Reintentando…",
  tooBig: "El archivo pesa más de 10 MB.",
  badFile: "Solo se pueden enviar imágenes y documentos.",
  tooMany: "Estás enviando muchos mensajes. Espera un momento.",
  messages: "Mensajes",
  file: "Archivo",
};
export type Words = typeof es;
const en: Words = {
  open: "Open the chat",
  close: "Close the chat",
  title: "Chat",
  input: "Write a message",
  send: "Send",
  attach: "Attach a file",
  typing: "is typing…",
  aiTyping: "typing…",
  you: "You",
  seen: "Seen",
  delivered: "Delivered",
  sending: "Sending…",
  failed: "Not sent. Tap to retry.",
  name: "Your name (optional)",
  email: "Your e-mail (optional)",
  start: "Start",
  prechat: "Tell us who you are, if you like:",
  offline: "Offline. Retrying…",
  tooBig: "The file is larger than 10 MB.",
  badFile: "Only images and documents can be sent.",
  tooMany: "You are sending many messages. Wait a moment.",
  messages: "Messages",
  file: "File",
};

export function pageLanguage(doc: Document, nav: Navigator): "es" | "en" {
  const lang = (doc.documentElement.lang || nav.language || "es").toLowerCase();
  return lang.startsWith("en") ? "en" : "es";
}

export function wordsFor(lang: "es" | "en"): Words {
  return lang === "en" ? en : es;
}
