/** The widget's styles, inside its shadow root (the page's CSS cannot reach them, nor ours the page).
 * `--c` is the channel's colour. */
export const STYLES = `
:host{all:initial}
*{box-sizing:border-box;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
.launcher{position:fixed;right:20px;bottom:20px;width:56px;height:56px;border-radius:50%;border:0;background:var(--c);
color:#fff;box-shadow:0 6px 20px rgba(0,0,0,.22);cursor:pointer;display:grid;place-items:center;z-index:2147483000;
transition:transform .15s}
.launcher:hover{transform:scale(1.06)}
.launcher:focus-visible,button:focus-visible,textarea:focus-visible,input:focus-visible{outline:3px solid #93c5fd;outline-offset:2px}
.badge{position:absolute;top:-2px;right:-2px;min-width:20px;height:20px;border-radius:10px;background:#dc2626;color:#fff;
font-size:12px;font-weight:700;display:grid;place-items:center;padding:0 5px}
.badge[hidden]{display:none}
.panel{position:fixed;right:20px;bottom:88px;width:370px;height:min(600px,calc(100vh - 110px));background:#fff;
border-radius:16px;box-shadow:0 12px 40px rgba(0,0,0,.25);display:flex;flex-direction:column;overflow:hidden;
z-index:2147483001;color:#111827;font-size:15px;line-height:1.4}
.panel[hidden]{display:none}
header{background:var(--c);color:#fff;padding:14px 14px 14px 16px;display:flex;align-items:center;gap:10px}
header img,.avatar{width:36px;height:36px;border-radius:50%;object-fit:cover;background:rgba(255,255,255,.25);
display:grid;place-items:center;font-weight:700;flex:none}
header h2{font-size:16px;margin:0;font-weight:600;flex:1;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
header .sub{font-size:12px;opacity:.85;font-weight:400;display:block}
.x{background:transparent;border:0;color:#fff;width:36px;height:36px;border-radius:8px;cursor:pointer;display:grid;place-items:center}
.x:hover{background:rgba(255,255,255,.18)}
.log{flex:1;overflow-y:auto;padding:16px 12px;display:flex;flex-direction:column;gap:6px;background:#f8fafc}
.note{background:#fff;border:1px solid #e5e7eb;border-radius:12px;padding:10px 12px;font-size:14px;color:#374151;white-space:pre-wrap}
.note.hours{font-size:13px;color:#6b7280}
.row{display:flex;flex-direction:column;max-width:82%}
.row.me{align-self:flex-end;align-items:flex-end}
.b{padding:8px 12px;border-radius:16px;white-space:pre-wrap;word-wrap:break-word;overflow-wrap:anywhere}
.me .b{background:var(--c);color:#fff;border-bottom-right-radius:4px}
.them .b{background:#fff;border:1px solid #e5e7eb;border-bottom-left-radius:4px}
.who{font-size:12px;color:#6b7280;margin:4px 4px 2px}
.meta{font-size:11px;color:#6b7280;margin:2px 4px}
.meta.err{color:#b91c1c;cursor:pointer}
.b img{max-width:220px;max-height:220px;border-radius:10px;display:block}
.b a{color:inherit}
.dots{display:inline-flex;gap:3px}.dots i{width:6px;height:6px;border-radius:50%;background:#9ca3af;animation:d 1s infinite}
.dots i:nth-child(2){animation-delay:.15s}.dots i:nth-child(3){animation-delay:.3s}
@keyframes d{0%,80%,100%{opacity:.3}40%{opacity:1}}
.status{font-size:12px;color:#b45309;background:#fffbeb;padding:4px 12px;text-align:center}
form.compose{display:flex;align-items:flex-end;gap:6px;padding:10px;border-top:1px solid #e5e7eb;background:#fff}
textarea{flex:1;resize:none;border:1px solid #d1d5db;border-radius:12px;padding:9px 12px;font-size:15px;max-height:120px;
min-height:40px;color:#111827;background:#fff}
.icon{width:40px;height:40px;border-radius:50%;border:0;background:transparent;color:#4b5563;cursor:pointer;display:grid;
place-items:center;flex:none}
.icon:hover{background:#f3f4f6}
.icon.send{background:var(--c);color:#fff}
.icon:disabled{opacity:.5;cursor:default}
form.pre{display:flex;flex-direction:column;gap:8px;background:#fff;border:1px solid #e5e7eb;border-radius:12px;padding:12px}
form.pre input{border:1px solid #d1d5db;border-radius:8px;padding:8px 10px;font-size:14px}
form.pre button{align-self:flex-end;background:var(--c);color:#fff;border:0;border-radius:8px;padding:8px 14px;cursor:pointer;font-size:14px}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@media (max-width:480px){.panel{inset:0;width:100%;height:100%;border-radius:0;bottom:0;right:0}
.panel:not([hidden])~.launcher{display:none}}
@media (prefers-reduced-motion:reduce){.launcher{transition:none}.dots i{animation:none}}
`;
