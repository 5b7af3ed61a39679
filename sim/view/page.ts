/**
 * The timeline page: one self-contained HTML file (inline CSS and script, the data as a JSON
 * block; it loads nothing from anywhere). Lanes on the model-time axis, drawn on a canvas so a
 * trace of 100k records stays responsive (only what is on screen is drawn, runs of items
 * narrower than a pixel are drawn once); a list of every row below it (virtualised past a few
 * thousand rows), the bytes of whatever is clicked beside it.
 */
import type { ViewData } from './data.js';
import { SCRIPT } from './browser-script-wall.js';

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** JSON that cannot end its <script> block early. */
const scriptJson = (v: unknown): string => JSON.stringify(v).replace(/</g, '\\u003c');

const CSS = `
*{box-sizing:border-box}
body{margin:0;font:13px/1.35 system-ui,-apple-system,"Segoe UI",sans-serif;color:#111827;background:#f9fafb}
header{padding:8px 12px;background:#fff;border-bottom:1px solid #e5e7eb;display:flex;flex-wrap:wrap;gap:6px 16px;align-items:center}
header h1{font-size:15px;margin:0;font-weight:600}
#info{color:#4b5563}
#cursor{font-family:ui-monospace,Menlo,Consolas,monospace;color:#374151;min-width:16em}
button,select{font:inherit;padding:2px 8px;border:1px solid #d1d5db;border-radius:4px;background:#fff;cursor:pointer}
.legend{display:flex;gap:10px;color:#374151}
.legend span::before{content:"";display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px;background:var(--c);vertical-align:-1px}
#timeline{position:relative;display:flex;background:#fff;border-bottom:1px solid #e5e7eb;user-select:none}
#labels{position:relative;width:170px;flex:none;border-right:1px solid #e5e7eb}
.lane-label{position:absolute;left:0;right:0;padding:0 8px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;display:flex;align-items:center;color:#1f2937}
.lane-label.sub{padding-left:22px;color:#4b5563;font-size:12px}
.lane-group{position:absolute;left:0;width:16px;writing-mode:vertical-rl;transform:rotate(180deg);font-size:10px;color:#6b7280;text-align:center;overflow:hidden;border-right:1px solid #e5e7eb;background:#f3f4f6}
#canvas-wrap{position:relative;flex:1;min-width:0}
canvas{display:block;cursor:grab}
canvas.dragging{cursor:grabbing}
#tip{position:absolute;pointer-events:none;background:#111827;color:#f9fafb;padding:5px 8px;border-radius:4px;font-size:12px;max-width:520px;white-space:pre-wrap;word-break:break-all;z-index:5;box-shadow:0 2px 6px rgba(0,0,0,.25)}
#bottom{display:flex;height:38vh;min-height:180px}
#list{position:relative;flex:1;overflow:auto;background:#fff;border-right:1px solid #e5e7eb;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
#list-inner{position:relative}
.row{height:20px;line-height:20px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;padding:0 8px;cursor:pointer;border-bottom:1px solid #f3f4f6}
.row.virtual{position:absolute;left:0;right:0}
.row:hover{background:#f3f4f6}
.row.selected{background:#dbeafe}
.row .t{color:#6b7280;display:inline-block;width:12em}
.row .lane{display:inline-block;width:10em;color:#374151}
.row .kind{display:inline-block;width:6em;color:var(--c,#374151)}
#detail{width:44%;min-width:300px;overflow:auto;padding:8px 12px;background:#fff}
#detail h3{margin:0 0 6px;font-size:13px}
#detail pre{margin:6px 0;padding:6px;background:#f3f4f6;border-radius:4px;white-space:pre-wrap;word-break:break-all;font-size:12px}
#detail .muted{color:#6b7280}
`;


export function renderPage(data: ViewData): string {
  const title = escapeHtml(data.title);
  const legend = [
    ['c', 'command', '#2563eb'],
    ['d', 'data', '#7c3aed'],
    ['e', 'echo', '#9ca3af'],
    ['r', 'response', '#0891b2'],
    ['u', 'URC', '#ea580c'],
    ['p', 'prompt', '#16a34a'],
  ]
    .map(([, name, c]) => `<span style="--c:${c ?? ''}">${name ?? ''}</span>`)
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="icon" href="data:,">
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${title}</h1>
<select id="session" aria-label="session"></select>
<span id="info"></span>
<span class="legend">${legend}</span>
<button id="fit" title="whole session (0)">Fit</button><button id="zoom-in" title="zoom in (+)">+</button><button id="zoom-out" title="zoom out (-)">−</button>
<span id="cursor"></span>
</header>
<div id="timeline"><div id="labels"></div><div id="canvas-wrap"><canvas id="canvas" aria-label="timeline"></canvas><div id="tip" hidden></div></div></div>
<div id="bottom"><div id="list" role="list"><div id="list-inner"></div></div><div id="detail"></div></div>
<script type="application/json" id="modemsim-data">${scriptJson(data)}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
