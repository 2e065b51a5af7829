"""The "customer phone": a page where a person writes as a customer. Each message becomes a real
signed webhook to Tertulia; the business's replies appear with the ticks the sandbox reported
(sent ✓, delivered ✓✓, read ✓✓ in blue). No framework: one HTML page polling `/_sandbox/thread`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

PAGE = """<!doctype html>
<html lang="es">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Teléfono del cliente · Sandbox</title>
<style>
  :root { --verde: #008069; --burbuja: #d9fdd3; --fondo: #efeae2; --gris: #667781; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: #d1d7db;
         display: flex; justify-content: center; min-height: 100vh; }
  .telefono { width: 100%; max-width: 420px; background: var(--fondo); display: flex; flex-direction: column;
              height: 100vh; box-shadow: 0 0 24px rgba(0,0,0,.15); }
  header { background: var(--verde); color: #fff; padding: 10px 12px; }
  header h1 { font-size: 16px; margin: 0 0 6px; }
  header .fila { display: flex; gap: 6px; }
  header select, header input { flex: 1; min-width: 0; border: 0; border-radius: 6px; padding: 6px; font: inherit; }
  #chat { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 6px; }
  .msg { max-width: 80%; padding: 6px 9px 4px; border-radius: 8px; box-shadow: 0 1px .5px rgba(0,0,0,.13);
         white-space: pre-wrap; word-wrap: break-word; }
  .cliente { align-self: flex-end; background: var(--burbuja); }
  .negocio { align-self: flex-start; background: #fff; }
  .meta { font-size: 11px; color: var(--gris); text-align: right; margin-top: 2px; }
  .ticks { letter-spacing: -3px; margin-left: 4px; }
  .ticks.leido { color: #53bdeb; }
  .fallo { color: #c0392b; }
  .reaccion { font-size: 13px; margin-top: 2px; }
  .reaccionar { border: 0; background: none; cursor: pointer; padding: 0 0 0 4px; opacity: .5; }
  .reaccionar:hover { opacity: 1; }
  .eco { font-size: 11px; color: var(--gris); }
  .vacio { color: var(--gris); text-align: center; margin-top: 40px; }
  #escribiendo { color: var(--gris); font-size: 13px; padding: 0 14px 4px; min-height: 18px; }
  footer { background: #f0f2f5; padding: 8px; display: flex; flex-direction: column; gap: 6px; }
  .acciones { display: flex; gap: 4px; flex-wrap: wrap; }
  .acciones button { background: #fff; border: 1px solid #d1d7db; border-radius: 14px; padding: 3px 9px;
                     font: inherit; font-size: 13px; cursor: pointer; }
  form { display: flex; gap: 6px; }
  form input { flex: 1; border: 0; border-radius: 20px; padding: 9px 14px; font: inherit; }
  form button { background: var(--verde); color: #fff; border: 0; border-radius: 50%; width: 40px; height: 40px;
                font-size: 18px; cursor: pointer; }
  button:disabled { opacity: .5; cursor: default; }
  #aviso { color: #c0392b; font-size: 13px; min-height: 1em; }
</style>
</head>
<body>
<main class="telefono">
  <header>
    <h1>Teléfono del cliente</h1>
    <div class="fila">
      <select id="canal" aria-label="Canal"></select>
    </div>
    <div class="fila" style="margin-top:6px">
      <input id="nombre" aria-label="Nombre del cliente" placeholder="Nombre" value="Lucía Martín">
      <input id="numero" aria-label="Número o identificador del cliente" placeholder="Número">
    </div>
  </header>
  <section id="chat" aria-live="polite"><p class="vacio">Elige un canal y escribe como cliente.</p></section>
  <div id="escribiendo"></div>
  <footer>
    <div class="acciones">
      <button type="button" data-tipo="image">📷 Foto</button>
      <button type="button" data-tipo="document">📄 Documento</button>
      <button type="button" data-tipo="voice">🎤 Nota de voz</button>
      <button type="button" data-tipo="location">📍 Ubicación</button>
      <button type="button" id="leer">✓✓ Marcar como leído</button>
    </div>
    <form id="formulario">
      <input id="texto" autocomplete="off" placeholder="Escribe un mensaje" aria-label="Mensaje">
      <button aria-label="Enviar">➤</button>
    </form>
    <div id="aviso" role="status"></div>
  </footer>
</main>
<script>
const $ = (id) => document.getElementById(id);
let canales = [];
const DEFECTO = { whatsapp_cloud: "34600111222", ycloud: "+34600111222", facebook: "6100000000000001",
                  instagram: "1780000000000001" };

async function api(ruta, cuerpo) {
  const r = await fetch("/_sandbox" + ruta, cuerpo === undefined ? {} : {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(cuerpo) });
  const datos = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((datos.error && datos.error.message) || ("error " + r.status));
  return datos;
}

function canal() { return canales.find((c) => c.key === $("canal").value); }
function aviso(texto) { $("aviso").textContent = texto || ""; }

async function cargarCanales() {
  canales = await api("/channels");
  const nombres = { whatsapp_cloud: "WhatsApp (Cloud API)", ycloud: "WhatsApp (YCloud)", facebook: "Messenger",
                    instagram: "Instagram" };
  $("canal").innerHTML = canales.map((c) =>
    `<option value="${c.key}">${nombres[c.kind]} · ${c.verified_name || c.name || c.key}</option>`).join("")
    || "<option>No hay canales: regístralos en /_sandbox/channels</option>";
  elegirCanal();
}

function elegirCanal() {
  const c = canal();
  if (c) $("numero").value = DEFECTO[c.kind];
  pintar({ messages: [] });
  refrescar();
}

async function enviar(extra) {
  const c = canal();
  if (!c) return aviso("No hay ningún canal registrado.");
  aviso("");
  try {
    const r = await api("/messages", { channel: c.key, from: $("numero").value.trim(),
                                       name: $("nombre").value.trim() || null, ...extra });
    const d = r.delivery;
    if (d && d.outcome !== "delivered") {
      const ultimo = d.attempts[d.attempts.length - 1] || {};
      aviso("Tertulia no aceptó el webhook (" + (ultimo.status || ultimo.error || "sin respuesta") + ").");
    }
  } catch (e) { aviso(e.message); }
  refrescar();
}

function ticks(m) {
  if (m.status === "failed") return `<span class="fallo" title="${m.error || ""}">⚠ no entregado</span>`;
  if (m.status === "read" || m.status === "played") return '<span class="ticks leido" title="Leído">✓✓</span>';
  if (m.status === "delivered") return '<span class="ticks" title="Entregado">✓✓</span>';
  if (m.status === "sent") return '<span class="ticks" title="Enviado">✓</span>';
  return '<span title="Pendiente">🕓</span>';
}

function hora(ts) { return new Date(ts * 1000).toLocaleTimeString("es", { hour: "2-digit", minute: "2-digit" }); }
const ENTIDADES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };
function esc(t) { return (t || "").replace(/[&<>"]/g, (ch) => ENTIDADES[ch]); }

function pintar(hilo) {
  const chat = $("chat");
  const reacciones = {};
  hilo.messages.filter((m) => m.type === "reaction").forEach((m) => { reacciones[m.target] = m.text; });
  const visibles = hilo.messages.filter((m) => m.type !== "reaction");
  if (!visibles.length) { chat.innerHTML = '<p class="vacio">Todavía no hay mensajes.</p>'; return; }
  const abajo = chat.scrollHeight - chat.scrollTop - chat.clientHeight < 40;
  chat.innerHTML = visibles.map((m) => {
    const cliente = m.from === "customer";
    const pie = cliente ? (m.read ? '<span class="ticks leido" title="Leído por el negocio">✓✓</span>' : "")
                        : ticks(m);
    const eco = m.echo ? '<div class="eco">Escrito desde el teléfono del negocio</div>' : "";
    const reaccion = reacciones[m.id] ? `<div class="reaccion">${esc(reacciones[m.id])}</div>` : "";
    const boton = cliente ? "" : ` <button type="button" class="reaccionar" data-reaccionar="${m.id}"
      title="Reaccionar con 👍">👍</button>`;
    const texto = esc(m.text) || "[" + m.type + "]";
    return `<div class="msg ${cliente ? "cliente" : "negocio"}">${eco}${texto}${reaccion}` +
      `<div class="meta">${hora(m.at)}${pie}${boton}</div></div>`;
  }).join("");
  if (abajo) chat.scrollTop = chat.scrollHeight;
}

async function refrescar() {
  const c = canal();
  if (!c || !$("numero").value.trim()) return;
  try {
    const cliente = encodeURIComponent($("numero").value.trim());
    const hilo = await api(`/thread?channel=${encodeURIComponent(c.key)}&customer=${cliente}`);
    pintar(hilo);
    $("escribiendo").textContent = hilo.typing ? "escribiendo…" : "";
  } catch (e) { aviso(e.message); }
}

$("canal").addEventListener("change", elegirCanal);
$("numero").addEventListener("change", refrescar);
$("formulario").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const texto = $("texto").value.trim();
  if (!texto) return;
  $("texto").value = "";
  enviar({ type: "text", text: texto });
});
document.querySelectorAll("[data-tipo]").forEach((b) => b.addEventListener("click", () => {
  const tipo = b.dataset.tipo;
  const c = canal();
  if (tipo === "location") {
    if (c && (c.kind === "facebook" || c.kind === "instagram")) return aviso("Ese canal no envía ubicaciones.");
    return enviar({ type: "location", latitude: 40.4168, longitude: -3.7038, location_name: "Puerta del Sol",
                    address: "Plaza de la Puerta del Sol, Madrid" });
  }
  const pie = $("texto").value.trim();
  $("texto").value = "";
  enviar({ type: tipo, caption: pie || null });
}));
$("leer").addEventListener("click", async () => {
  const c = canal();
  if (!c) return;
  try { await api("/read", { channel: c.key, customer: $("numero").value.trim() }); } catch (e) { aviso(e.message); }
  refrescar();
});
$("chat").addEventListener("click", (ev) => {
  const id = ev.target.dataset && ev.target.dataset.reaccionar;
  if (id) enviar({ type: "reaction", target: id, emoji: "👍" });
});
cargarCanales().catch((e) => aviso(e.message));
setInterval(refrescar, 1000);
</script>
</body>
</html>
"""


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/phone", response_class=HTMLResponse)
    async def phone() -> HTMLResponse:
        return HTMLResponse(PAGE)

    return router
