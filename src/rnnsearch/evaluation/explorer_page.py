"""The alignment explorer's page: inline style and script around the data (explorer.py).

Paper: Figure 3's heat map (grayscale, 0: black, 1: white; source words along the top, generated
words down the side). The script reads the JSON in <script id="data">, lists the sentences of
the chosen model (filtered by length bucket and a search box), draws the clicked sentence's
alpha as a table of cells, and on hovering a generated word tints each source word by its weight.
Words are inserted as text nodes only, never as HTML. Not responsible for the data (explorer.py).
"""

from __future__ import annotations

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222}
header{position:sticky;top:0;background:#f4f4f4;padding:8px 12px;border-bottom:1px solid #ccc}
header h1{font-size:16px;display:inline;margin-right:16px}
header label,header input{margin-right:12px}
main{display:flex;height:calc(100vh - 50px)}
#list-wrap{flex:1 1 50%;overflow:auto;border-right:1px solid #ccc}
#list{border-collapse:collapse;width:100%;table-layout:fixed}
#list td,#list th{padding:3px 6px;border-bottom:1px solid #eee;text-align:left;
  white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
#list th:nth-child(-n+3){width:4.5em}
#list tbody tr{content-visibility:auto;contain-intrinsic-size:auto 22px}
#list tbody tr{cursor:pointer}#list tbody tr:hover{background:#eef}
#list tr.chosen{background:#dde}
#detail{flex:1 1 50%;overflow:auto;padding:8px 12px}
.words span{padding:0 2px;border-radius:2px}
#heatmap{border-collapse:collapse;margin-top:8px}
#heatmap td{width:14px;height:14px;padding:0}
#heatmap thead th{writing-mode:vertical-rl;transform:rotate(180deg);font-weight:normal;
  text-align:left;padding:2px 0}
#heatmap tbody th{text-align:right;font-weight:normal;padding-right:4px;white-space:nowrap}
#heatmap tr.active th{font-weight:bold;background:#ffd54f}
"""

SCRIPT = """
"use strict";
const DATA = JSON.parse(document.getElementById("data").textContent);
const END = "<end>";
const $ = (id) => document.getElementById(id);
let model = 0;

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}
function words(line) { return line === "" ? [] : line.split(" "); }
function labels(line, n) {
  const w = words(line).slice(0, n);
  while (w.length < n) w.push(END);
  return w;
}
function matches(t, s, bucket, query) {
  if (bucket && t.k !== bucket) return false;
  if (!query) return true;
  return (t.s + "\\n" + t.r + "\\n" + s.h).toLowerCase().includes(query);
}
function renderList() {
  const bucket = $("bucket").value, query = $("search").value.trim().toLowerCase();
  const body = document.createDocumentFragment();
  let shown = 0;
  DATA.models[model].sentences.forEach((s, i) => {
    const t = DATA.test[i];
    if (!matches(t, s, bucket, query)) return;
    const tr = el("tr");
    tr.dataset.index = i;
    [String(i + 1), t.k, s.b.toFixed(1), t.s, s.h].forEach((t) => tr.appendChild(el("td", t)));
    tr.addEventListener("click", () => showSentence(i, tr));
    body.appendChild(tr);
    shown += 1;
  });
  $("list").tBodies[0].replaceChildren(body);
  $("count").textContent = shown + " of " + DATA.models[model].sentences.length + " sentences";
}
function wordLine(title, line, prefix) {
  const p = el("p", undefined, "words");
  p.appendChild(el("b", title + ": "));
  words(line).forEach((w, j) => {
    const span = el("span", w);
    if (prefix) span.id = prefix + j;
    p.appendChild(span);
    p.appendChild(document.createTextNode(" "));
  });
  return p;
}
function highlight(table, alpha, row) {
  table.querySelectorAll("tbody tr").forEach((tr, i) => tr.classList.toggle("active", i === row));
  table.querySelectorAll("thead th.src").forEach((th, j) => {
    const a = row < 0 ? 0 : alpha[row][j];
    const tint = a > 0 ? "rgba(255,193,7," + a + ")" : "";
    th.style.background = tint;
    const span = $("src-" + j);
    if (span) span.style.background = tint;
  });
}
function matrix(s) {  // "<lead>.<digits>" per row (explorer.encode_matrix) -> alpha[i][j]
  return s.a.split(",").map((text) => {
    const row = new Array(s.w).fill(0);
    if (text) {
      const [lead, digits] = text.split(".");
      for (let j = 0; j < digits.length; j++) {
        row[Number(lead) + j] = DATA.digits.indexOf(digits[j]) / DATA.levels;
      }
    }
    return row;
  });
}
function heatmap(t, s) {
  const alpha = matrix(s), cols = s.w, rows = alpha.length;
  const table = el("table");
  table.id = "heatmap";
  table.dataset.rows = rows;
  table.dataset.cols = cols;
  const head = el("tr");
  head.appendChild(el("th"));
  labels(t.s, cols).forEach((w) => head.appendChild(el("th", w, "src")));
  table.appendChild(el("thead")).appendChild(head);
  const body = table.appendChild(el("tbody"));
  labels(s.h, rows).forEach((w, i) => {
    const tr = body.appendChild(el("tr"));
    tr.appendChild(el("th", w, "tgt"));
    alpha[i].forEach((a) => {
      const td = tr.appendChild(el("td"));
      const v = Math.round(255 * a);
      td.style.background = "rgb(" + v + "," + v + "," + v + ")";
      td.title = a.toFixed(2);
    });
    tr.addEventListener("mouseenter", () => highlight(table, alpha, i));
  });
  table.addEventListener("mouseleave", () => highlight(table, alpha, -1));
  return table;
}
function showSentence(i, tr) {
  document.querySelectorAll("#list tr.chosen").forEach((r) => r.classList.remove("chosen"));
  tr.classList.add("chosen");
  const s = DATA.models[model].sentences[i], t = DATA.test[i];
  const detail = $("detail");
  detail.replaceChildren(el("h2", DATA.models[model].name + ", test sentence " + (i + 1)));
  detail.appendChild(el("p", "length " + t.k + ", sentence BLEU " + s.b.toFixed(1)));
  detail.appendChild(wordLine("source", t.s, "src-"));
  detail.appendChild(wordLine("reference", t.r));
  detail.appendChild(wordLine("hypothesis", s.h));
  if (s.a === undefined) {
    detail.appendChild(el("p", "No attention matrix was stored for this sentence.", "hint"));
    return;
  }
  detail.appendChild(el("p", "Hover a generated word (left) to tint the source words it " +
                        "attends to; cells: alpha, black 0, white 1.", "hint"));
  detail.appendChild(heatmap(t, s));
}
DATA.models.forEach((m, k) => $("model").appendChild(new Option(m.name, k)));
DATA.buckets.forEach((b) => $("bucket").appendChild(new Option(b, b)));
$("model").addEventListener("change", () => { model = Number($("model").value); renderList(); });
$("bucket").addEventListener("change", renderList);
$("search").addEventListener("input", renderList);
if (DATA.models.length) renderList();
else $("detail").textContent = "No RNNsearch model was evaluated.";
"""

PAGE = (
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<title>__TITLE__</title><style>" + STYLE + "</style></head><body>\n"
    "<header><h1>__TITLE__</h1><label>model <select id=\"model\"></select></label>"
    "<label>source length <select id=\"bucket\"><option value=\"\">all</option></select></label>"
    "<input id=\"search\" type=\"search\" placeholder=\"search source, reference, hypothesis\">"
    "<span id=\"count\"></span></header>\n<main><div id=\"list-wrap\"><table id=\"list\">"
    "<thead><tr><th>#</th><th>length</th><th>BLEU</th><th>source</th><th>hypothesis</th></tr>"
    "</thead><tbody></tbody></table></div>\n<section id=\"detail\"><p class=\"hint\">"
    "Click a sentence to see its alignment.</p></section></main>\n"
    "<script type=\"application/json\" id=\"data\">__DATA__</script>\n"
    "<script>" + SCRIPT + "</script></body></html>\n"
)
