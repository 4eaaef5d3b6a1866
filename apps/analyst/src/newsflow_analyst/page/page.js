// newsflow newsroom page: four views over the read-only API of the same origin, routed by the URL's #hash
// (#/search?q=…, #/trending, #/entity/NAME, #/story/CLUSTER) so every view can be bookmarked and the back
// button works. Charts are plain SVG drawn here: no library, no build step.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const INBOX_HINT = "No articles yet: drop .txt or .html files into .newsflow/inbox (or run newsflow-ingest) " +
  "and they appear here within seconds.";

// --- small helpers ------------------------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

class ApiError extends Error {}

// GET a route of this API; an ApiError says in words what went wrong and what to do.
async function api(path, params = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v != null));
  let response;
  try {
    response = await fetch(`${path}?${query}`, { headers: { Accept: "application/json" } });
  } catch {
    throw new ApiError("newsflow-api cannot be reached: is it running? (make run starts it), then reload.");
  }
  const body = await response.json().catch(() => ({}));
  if (response.status === 503) throw new ApiError(`${body.error || "Elasticsearch is unavailable"}: start it (make run) and try again.`);
  if (!response.ok) throw new ApiError(body.error || `the API answered ${response.status}`);
  return body;
}

function say(node, text, kind = "") {
  node.textContent = text;
  node.className = `${node.className.split(" ")[0]} ${kind}`.trim();
}

async function loading(statusNode, work) {
  say(statusNode, "Loading…");
  statusNode.closest("section").setAttribute("aria-busy", "true");
  try {
    return await work();
  } catch (error) {
    say(statusNode, error instanceof ApiError ? error.message : `Something went wrong: ${error}`, "error");
    return null;
  } finally {
    statusNode.closest("section").removeAttribute("aria-busy");
  }
}

// A highlight fragment with its matches in <em>: the text is kept as text, only <em> becomes markup.
function highlighted(fragment) {
  const node = el("p", { class: "snippet" });
  fragment.split(/(<em>.*?<\/em>)/).forEach((part) => {
    const match = /^<em>(.*)<\/em>$/.exec(part);
    node.append(match ? el("em", {}, match[1]) : part);
  });
  return node;
}

function when(iso) {
  if (!iso) return "date unknown";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

// A timeline period as a person reads it: a day without its midnight, an hour with it.
function periodLabel(iso, interval) {
  return interval === "day" ? when(iso).slice(0, 10) : when(iso);
}

function articleItem(hit) {
  const title = hit.url
    ? el("a", { class: "title", href: hit.url, rel: "noopener noreferrer", target: "_blank" }, hit.title || hit.url)
    : el("span", { class: "title" }, hit.title || hit.article_id);
  const meta = el("p", { class: "meta" },
    [hit.site_name || hit.source, hit.section, hit.language, when(hit.published_at)].filter(Boolean).join(" · "));
  const item = el("li", { class: "article" }, title, meta);
  if (hit.highlight) item.append(highlighted(hit.highlight));
  if (hit.cluster_id) {
    item.append(el("a", { class: "story-link", href: `#/story/${encodeURIComponent(hit.cluster_id)}` }, "Story: all outlets"));
  }
  return item;
}

// --- search -------------------------------------------------------------------------------------------------

const FILTERS = ["q", "section", "site", "language", "entity", "since", "until"];
let searchShown = 0; // which search the list belongs to: an answer to an earlier one arriving late is dropped

async function showSearch(params) {
  const shown = ++searchShown;
  const section = document.getElementById("search");
  const form = document.getElementById("search-form");
  const [status, results, more] = [section.querySelector(".status"), section.querySelector(".results"), section.querySelector(".more")];
  for (const name of FILTERS) form.elements[name].value = params.get(name) || "";
  if (FILTERS.slice(1).some((name) => params.get(name))) form.querySelector("details").open = true;
  results.replaceChildren();
  more.hidden = true;
  const asked = Object.fromEntries(FILTERS.map((name) => [name, params.get(name) || ""]));
  const narrowed = FILTERS.some((name) => asked[name]);

  async function page(after) {
    const answer = await loading(status, () => api("/search", { ...asked, after, size: 10 }));
    if (!answer || shown !== searchShown) return;
    answer.hits.forEach((hit) => results.append(articleItem(hit)));
    more.hidden = !answer.next;
    more.onclick = () => page(answer.next);
    if (answer.total === 0) say(status, narrowed ? "Nothing matches: try fewer words or remove a filter." : INBOX_HINT);
    else say(status, `${answer.total} article${answer.total === 1 ? "" : "s"}${asked.q ? "" : ", newest first"}; showing ${results.children.length}.`);
  }
  await page(undefined);
}

function submitSearch(event) {
  event.preventDefault();
  const data = new FormData(event.target);
  const params = new URLSearchParams([...data].filter(([, value]) => value));
  location.hash = `#/search?${params}`;
}

// --- trending -----------------------------------------------------------------------------------------------

function sparkline(points) {
  const counts = points.map((p) => p.count ?? 0);
  const top = Math.max(1, ...counts);
  const step = counts.length > 1 ? 100 / (counts.length - 1) : 0;
  const coords = counts.map((c, i) => `${(i * step).toFixed(1)},${(22 - (c / top) * 20).toFixed(1)}`).join(" ");
  const label = `counts in the earlier windows, oldest first: ${points.map((p) => p.count ?? "none").join(", ")}`;
  return el("svg:svg", { class: "sparkline", viewBox: "0 0 100 24", preserveAspectRatio: "none", role: "img",
    "aria-label": label, "data-points": String(counts.length) }, el("svg:polyline", { points: coords }));
}

function trendTarget(row) {
  return row.type === "KEYWORD" ? `#/search?q=${encodeURIComponent(row.term)}` : `#/entity/${encodeURIComponent(row.term)}`;
}

async function addSparkline(cell, row) {
  const length = Math.round((Date.parse(row.window_end) - Date.parse(row.window_start)) / 1000);
  const end = new Date(row.window_end).toISOString();
  try {
    const history = await api(`/trends/${encodeURIComponent(row.term)}/history`, { type: row.type, end, length, size: 12 });
    cell.replaceChildren(sparkline(history.windows));
  } catch {
    cell.textContent = "–";
  }
}

async function showWindow(box) {
  const span = box.dataset.window;
  const [status, table] = [box.querySelector(".status"), box.querySelector("table")];
  const answer = await loading(status, () => api("/trending", { window: span, size: 10 }));
  if (!answer) return;
  const body = table.querySelector("tbody");
  body.replaceChildren();
  table.hidden = answer.trends.length === 0;
  if (answer.trends.length === 0) {
    say(status, span === "1h"
      ? "Nothing trending in the last hour: a trend window is counted once it has closed; ingest articles and come back, or see the last 24 hours."
      : "Nothing trending yet: trends need articles spread over time; ingest some (drop files into .newsflow/inbox).");
    return;
  }
  say(status, "");
  for (const row of answer.trends) {
    const spark = el("td", { class: "spark" }, "…");
    body.append(el("tr", { class: "trend" },
      el("th", { scope: "row" }, el("a", { href: trendTarget(row) }, row.term)),
      el("td", {}, row.type),
      el("td", { class: "num" }, row.score.toFixed(1)),
      el("td", { class: "num" }, String(row.count)),
      spark));
    addSparkline(spark, row);
  }
}

async function showTrending() {
  await Promise.all([...document.querySelectorAll("#trending .window")].map(showWindow));
}

// --- timeline -----------------------------------------------------------------------------------------------

function chart(periods, interval, onChoose) {
  const [width, height, left, bottom] = [640, 220, 36, 24];
  const top = Math.max(1, ...periods.map((p) => p.articles));
  const step = periods.length > 1 ? (width - left - 8) / (periods.length - 1) : 0;
  const x = (i) => left + (periods.length > 1 ? i * step : (width - left) / 2);
  const y = (n) => height - bottom - (n / top) * (height - bottom - 12);
  const svg = el("svg:svg", { viewBox: `0 0 ${width} ${height}`, role: "group", "aria-label": "articles per period" },
    el("svg:line", { class: "axis", x1: left, y1: y(0), x2: width, y2: y(0) }),
    el("svg:text", { x: 4, y: y(top) + 4 }, String(top)),
    el("svg:text", { x: 4, y: y(0) + 4 }, "0"),
    el("svg:polyline", { class: "line", points: periods.map((p, i) => `${x(i)},${y(p.articles)}`).join(" ") }));
  if (periods.length) {
    svg.append(el("svg:text", { x: left, y: height - 6 }, periodLabel(periods[0].period, interval)));
    svg.append(el("svg:text", { x: width - 4, y: height - 6, "text-anchor": "end" }, periodLabel(periods.at(-1).period, interval)));
  }
  periods.forEach((p, i) => {
    const label = `${periodLabel(p.period, interval)}: ${p.articles} article${p.articles === 1 ? "" : "s"}`;
    const point = el("svg:circle", { class: "point", cx: x(i), cy: y(p.articles), r: 5, tabindex: 0, role: "button",
      "aria-pressed": "false", "aria-label": label }, el("svg:title", {}, label));
    point.addEventListener("click", () => onChoose(p, point));
    point.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); onChoose(p, point); }
    });
    svg.append(point);
  });
  return svg;
}

async function showBucket(name, interval, period, point) {
  const section = document.getElementById("timeline");
  section.querySelectorAll(".point").forEach((p) => p.setAttribute("aria-pressed", String(p === point)));
  const [title, status, list] = [section.querySelector(".bucket-title"), section.querySelector(".bucket-status"), section.querySelector(".bucket")];
  const start = new Date(period.period);
  const end = new Date(start.getTime() + (interval === "hour" ? 3600e3 : 86400e3));
  title.hidden = false;
  title.textContent = `Articles naming ${name} on ${periodLabel(period.period, interval)}`;
  list.replaceChildren();
  const answer = await loading(status, () => api("/search", { entity: name, since: start.toISOString(), until: end.toISOString(), size: 50 }));
  if (!answer) return;
  answer.hits.forEach((hit) => list.append(articleItem(hit)));
  say(status, answer.total ? `${answer.total} article${answer.total === 1 ? "" : "s"}${answer.next ? ", the first 50" : ""}.` : "No articles in this period: choose a point above zero.");
}

async function showTimeline(name, params) {
  const section = document.getElementById("timeline");
  const interval = params.get("interval") || "day";
  const select = section.querySelector("#interval");
  select.value = interval;
  select.onchange = () => { location.hash = `#/entity/${encodeURIComponent(name)}?interval=${select.value}`; };
  section.querySelector("h2").textContent = `Timeline: ${name}`;
  const [status, box] = [section.querySelector(".status"), section.querySelector(".chart")];
  box.replaceChildren();
  section.querySelector(".bucket-title").hidden = true;
  section.querySelector(".bucket").replaceChildren();
  say(section.querySelector(".bucket-status"), "");
  const answer = await loading(status, () => api(`/entities/${encodeURIComponent(name)}/timeline`, { interval }));
  if (!answer) return;
  if (!answer.periods.length) { say(status, `No dated articles name ${name} yet.`); return; }
  const total = answer.periods.reduce((sum, p) => sum + p.articles, 0);
  say(status, `${total} articles over ${answer.periods.length} ${interval}s. Choose a point (click, or Tab then Enter) to list its articles.`);
  box.append(chart(answer.periods, interval, (period, point) => showBucket(name, interval, period, point)));
}

// --- story --------------------------------------------------------------------------------------------------

async function showStory(clusterId) {
  const section = document.getElementById("story");
  const [status, table] = [section.querySelector(".status"), section.querySelector("table")];
  table.hidden = true;
  const answer = await loading(status, () => api(`/clusters/${encodeURIComponent(clusterId)}`));
  if (!answer) return;
  if (!answer.articles.length) { say(status, "No articles in this story: it may not be indexed yet; search again in a moment."); return; }
  const first = answer.articles.find((a) => !a.duplicate_of) || answer.articles[0];
  const sites = new Set(answer.articles.map((a) => a.site_name || a.source));
  section.querySelector("h2").textContent = `Story: ${first.title || clusterId}`;
  say(status, `${answer.articles.length} articles from ${sites.size} site${sites.size === 1 ? "" : "s"}; first published ${when(first.published_at)}.`);
  const body = table.querySelector("tbody");
  body.replaceChildren(...answer.articles.map((a) => el("tr", { class: a === first ? "first" : "reprint" },
    el("td", {}, when(a.published_at)),
    el("td", {}, a.site_name || a.source || ""),
    el("td", {}, a.url ? el("a", { href: a.url, rel: "noopener noreferrer", target: "_blank" }, a.title || a.url) : a.title || a.article_id),
    el("td", {}, a === first ? "first" : a.duplicate_of ? "reprint" : "same story"))));
  table.hidden = false;
}

// --- routing ------------------------------------------------------------------------------------------------

function route() {
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query);
  const [, view = "search", arg = ""] = path.split("/");
  const name = decodeURIComponent(arg);
  const shown = { search: "search", trending: "trending", entity: "timeline", story: "story" }[view] || "search";
  for (const section of document.querySelectorAll("main > section")) section.hidden = section.id !== shown;
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.view === shown) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (shown === "trending") return showTrending();
  if (shown === "timeline") return showTimeline(name, params);
  if (shown === "story") return showStory(name);
  return showSearch(params);
}

document.getElementById("search-form").addEventListener("submit", submitSearch);
window.addEventListener("hashchange", () => {
  if (location.hash && !location.hash.startsWith("#/")) return; // the skip link, not a view
  route(); document.getElementById("main").focus({ preventScroll: true }); });
route();
