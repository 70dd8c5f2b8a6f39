// LLM Analytics Hub live dashboard: vanilla JS, inline SVG, no build step, no CDN.
//
// The API key comes from the URL fragment (#key=..., never sent to the server) or the form,
// stays in sessionStorage for this tab, and goes out only as the X-API-Key header.
// Widgets come from a DashboardConfig (GET /api/v1/dashboards/{id}; ?id=..., default
// "default"). Charts are refreshed every refresh_interval seconds and updated live from
// the server-sent-event streams, read with fetch() (EventSource cannot send headers).
(() => {
  "use strict";

  const API = "/api/v1";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const KEY_STORE = "hub.dashboard.key";
  const PALETTE = ["#4fa3ff", "#ffb454", "#3ecf8e", "#ff6b6b", "#c792ea", "#89ddff",
    "#f78c6c", "#c3e88d", "#ff9cac", "#82aaff"];
  const WINDOWS = { "1m": "one_minute", "5m": "five_minutes", "15m": "fifteen_minutes",
    "1h": "one_hour", "6h": "six_hours", "1d": "one_day", "1w": "one_week", "30d": "one_month" };
  const UNIT_MS = { m: 60e3, h: 3600e3, d: 86400e3, w: 604800e3 };
  const ANOMALY_COLORS = { spike: "#ff6b6b", drop: "#4fa3ff", pattern_deviation: "#c792ea",
    frequency_anomaly: "#ffb454", distribution_shift: "#3ecf8e" };
  const REQUERY_DELAY_MS = 4000;
  const MAX_ANOMALIES = 500;

  const state = {
    key: null,
    config: null,
    rangeMs: 3600e3,
    widgets: new Map(), // id -> {config, queries, el, body, note, series, live, timer}
    anomalies: new Map(), // event_id -> {anomaly, episode, window, live}
    correlation: null,
    aborts: [],
    timers: [],
    liveUpdates: 0,
    started: false,
  };

  // --- small DOM helpers (textContent only: no data ever becomes markup) -------------------

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null) el.setAttribute(k, String(v));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null) el.setAttribute(k, String(v));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  const $ = (sel) => document.querySelector(sel);
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function fmt(v) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    const a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(2) + "G";
    if (a >= 1e6) return (v / 1e6).toFixed(2) + "M";
    if (a >= 1e4) return (v / 1e3).toFixed(1) + "k";
    if (a >= 100) return v.toFixed(0);
    if (a >= 1) return v.toFixed(2);
    if (a === 0) return "0";
    return v.toPrecision(2);
  }

  function hhmm(t) {
    return new Date(t).toISOString().slice(11, 16);
  }

  function hhmmss(t) {
    return new Date(t).toISOString().slice(11, 19);
  }

  function status(text, kind) {
    const el = $("#status");
    el.textContent = text;
    el.className = kind || "";
  }

  function setStream(name, value) {
    document.body.dataset[name + "Stream"] = value;
    const open = ["metrics", "anomalies"].filter((n) => document.body.dataset[n + "Stream"] === "open");
    if (open.length) {
      const last = state.lastLive ? ` · last update ${hhmmss(state.lastLive.at)} (${state.lastLive.what})` : "";
      status(`live: ${open.join(" + ")} stream${open.length > 1 ? "s" : ""}${last}`, "live");
    } else if (value === "reconnecting") {
      status("reconnecting to the live streams…");
    }
  }

  // --- the key -----------------------------------------------------------------------------

  function keyFromFragment() {
    const params = new URLSearchParams(location.hash.slice(1));
    const key = params.get("key");
    if (key) {
      sessionStorage.setItem(KEY_STORE, key);
      params.delete("key");
      const rest = params.toString();
      // Take the key out of the address bar (and out of bookmarks and screenshots).
      history.replaceState(null, "", location.pathname + location.search + (rest ? "#" + rest : ""));
      return key;
    }
    return sessionStorage.getItem(KEY_STORE);
  }

  function askForKey(message) {
    stopAll();
    sessionStorage.removeItem(KEY_STORE);
    state.key = null;
    $("#grid").hidden = true;
    $("#key-form").hidden = false;
    $("#key-message").textContent = message || "";
    status(message ? "API key needed" : "waiting for an API key", message ? "error" : "");
    $("#key-input").focus();
  }

  // --- HTTP ------------------------------------------------------------------------------

  class ApiFailure extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, params) {
    const url = new URL(API + path, location.origin);
    for (const [k, v] of params || []) url.searchParams.append(k, v);
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(url, { headers: { "X-API-Key": state.key }, cache: "no-store" });
      let body = null;
      try {
        body = await res.json();
      } catch (_) {
        body = null;
      }
      if (res.ok) return body;
      const message = (body && body.error && body.error.message) || `HTTP ${res.status}`;
      if (res.status === 401 || res.status === 403) {
        askForKey(message);
        throw new ApiFailure(res.status, message);
      }
      if ((res.status === 429 || res.status === 503) && attempt < 2) {
        const wait = Number(res.headers.get("Retry-After") || "2");
        await sleep(Math.min(Math.max(wait, 1), 30) * 1000);
        continue;
      }
      throw new ApiFailure(res.status, message);
    }
  }

  // --- server-sent events over fetch() -----------------------------------------------------

  async function stream(name, path, params, onData) {
    const url = new URL(API + path, location.origin);
    for (const [k, v] of params) url.searchParams.append(k, v);
    let lastId = null;
    let retry = 3000;
    let failures = 0;
    const ctrl = new AbortController();
    state.aborts.push(ctrl);
    while (!ctrl.signal.aborted) {
      try {
        const headers = { "X-API-Key": state.key, Accept: "text/event-stream" };
        if (lastId !== null && lastId !== "") headers["Last-Event-ID"] = lastId;
        const res = await fetch(url, { headers, cache: "no-store", signal: ctrl.signal });
        if (res.status === 401 || res.status === 403) {
          const body = await res.json().catch(() => null);
          askForKey((body && body.error && body.error.message) || `HTTP ${res.status}`);
          return;
        }
        if (res.status === 400 && lastId !== null) {
          lastId = null; // a cursor of another topic layout: start live again
          continue;
        }
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        failures = 0;
        setStream(name, "open");
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        let data = [];
        let eventId = lastId;
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          for (;;) {
            const match = /\r\n|\r|\n/.exec(buffer);
            if (!match) break;
            if (match[0] === "\r" && match.index === buffer.length - 1) break; // maybe \r\n
            const line = buffer.slice(0, match.index);
            buffer = buffer.slice(match.index + match[0].length);
            if (line === "") {
              lastId = eventId; // the SSE rule: the id applies once the event is dispatched
              document.body.dataset[name + "Resumable"] = lastId ? "true" : "false";
              if (data.length) dispatch(name, data.join("\n"), onData);
              data = [];
              continue;
            }
            if (line.startsWith(":")) continue;
            const colon = line.indexOf(":");
            const field = colon < 0 ? line : line.slice(0, colon);
            let val = colon < 0 ? "" : line.slice(colon + 1);
            if (val.startsWith(" ")) val = val.slice(1);
            if (field === "data") data.push(val);
            else if (field === "id" && !val.includes("\0")) eventId = val;
            else if (field === "retry" && /^\d+$/.test(val)) retry = Number(val);
          }
        }
      } catch (err) {
        if (ctrl.signal.aborted) return;
        console.warn(`${name} stream:`, err);
      }
      if (ctrl.signal.aborted) return;
      setStream(name, "reconnecting");
      failures += 1;
      await sleep(retry * Math.min(2 ** (failures - 1), 10));
    }
  }

  function dispatch(name, text, onData) {
    let event;
    try {
      event = JSON.parse(text);
    } catch (_) {
      return;
    }
    if (event.event_type === "data") onData(event.data);
    else if (event.event_type === "error") console.warn(`${name} stream error:`, event.data);
  }

  // --- queries -------------------------------------------------------------------------------

  function widgetQueries(w) {
    if (Array.isArray(w.queries)) return w.queries;
    return w.query ? [w.query] : [];
  }

  const asList = (v) => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);

  function queryParams(q) {
    const params = [
      ["metric", q.metric],
      ["fields", q.fields || "avg"],
      ["start", q.start || `now-${state.config.default_time_range}`],
      ["end", "now"],
      ["resolution", q.resolution || "auto"],
    ];
    if (q.aggregate) params.push(["aggregate", String(q.aggregate)]);
    for (const g of asList(q.group_by)) params.push(["group_by", g]);
    for (const t of asList(q.tag)) params.push(["tag", t]);
    if (q.fill !== undefined) params.push(["fill", String(q.fill)]);
    return params;
  }

  function seriesLabel(q, tags, widget) {
    const groups = asList(q.group_by).map((g) => tags[g] ?? "—");
    if (groups.length) return (q.label && widgetQueries(widget).length > 1 ? q.label + " " : "") + groups.join(" / ");
    const rest = Object.entries(tags || {}).map(([, v]) => v);
    if (q.label) return q.label;
    return rest.length ? rest.join(" / ") : q.metric;
  }

  async function loadWidget(w) {
    const queries = w.queries;
    try {
      const results = await Promise.all(queries.map((q) => api("/query", queryParams(q))));
      const series = [];
      results.forEach((body, qi) => {
        for (const sd of body.data.series) {
          const label = seriesLabel(queries[qi], sd.tags || {}, w.config);
          series.push({
            key: `${qi}|${label}`,
            qi,
            label,
            points: sd.points.map((p) => [Date.parse(p.timestamp), p.value]),
          });
        }
      });
      w.series = series;
      w.error = null;
    } catch (err) {
      if (err instanceof ApiFailure && (err.status === 401 || err.status === 403)) return;
      w.error = err.message;
    }
    w.loading = false;
    applyLive(w);
    render(w);
  }

  // --- live metrics ------------------------------------------------------------------------

  function tagsMatch(tags, filters) {
    return asList(filters).every((f) => {
      const i = f.indexOf(":");
      return i > 0 && tags[f.slice(0, i)] === f.slice(i + 1);
    });
  }

  function combine(values, aggregate) {
    const xs = values.filter((v) => typeof v === "number").sort((a, b) => a - b);
    if (!xs.length) return null;
    const agg = String(aggregate || "avg").toLowerCase();
    const sum = xs.reduce((a, b) => a + b, 0);
    const pct = (p) => {
      const r = (p / 100) * (xs.length - 1);
      const lo = Math.floor(r);
      return xs[lo] + (xs[Math.min(lo + 1, xs.length - 1)] - xs[lo]) * (r - lo);
    };
    if (agg === "sum") return sum;
    if (agg === "min") return xs[0];
    if (agg === "max") return xs[xs.length - 1];
    if (agg === "count") return xs.length;
    if (agg === "median") return pct(50);
    if (agg === "stddev") {
      const m = sum / xs.length;
      return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length);
    }
    const p = /^p(\d{1,3})$/.exec(agg);
    if (p) return pct(Number(p[1]));
    return sum / xs.length;
  }

  function onMetric(metric) {
    const t = Date.parse(metric.window_start);
    const tags = metric.tags || {};
    for (const w of state.widgets.values()) {
      w.queries.forEach((q, qi) => {
        if (q.metric !== metric.name) return;
        if (WINDOWS[q.resolution || "1m"] !== metric.window) return;
        if (!tagsMatch(tags, q.tag)) return;
        const field = q.fields || (metric.values && "p95" in metric.values ? "avg" : "value");
        const value = metric.values ? metric.values[field] : undefined;
        if (typeof value !== "number") return;
        const label = seriesLabel(q, tags, w.config);
        const seriesId = JSON.stringify(Object.entries(tags).sort());
        const key = `${qi}|${label}`;
        const byWindow = (w.live[key] ||= { qi, label, windows: {} }).windows;
        (byWindow[t] ||= {})[seriesId] = value;
        applyLive(w);
        render(w);
        scheduleRequery(w);
        state.liveUpdates += 1;
        document.body.dataset.liveUpdates = String(state.liveUpdates);
        state.lastLive = { at: Date.now(), what: `${metric.name} ${label} ${hhmm(t)}` };
        setStream("metrics", "open");
      });
    }
  }

  // Live windows fill in where the stored data has no point yet; stored data wins.
  function applyLive(w) {
    const horizon = Date.now() - state.rangeMs;
    for (const [key, entry] of Object.entries(w.live)) {
      let series = w.series.find((x) => x.key === key);
      if (!series) {
        series = { key, qi: entry.qi, label: entry.label, points: [] };
        w.series.push(series);
      }
      for (const [tText, bySeries] of Object.entries(entry.windows)) {
        const t = Number(tText);
        if (t < horizon) {
          delete entry.windows[tText];
          continue;
        }
        const value = combine(Object.values(bySeries), w.queries[entry.qi].aggregate);
        const existing = series.points.find((p) => p[0] === t);
        if (existing && !existing.live) continue;
        if (existing) existing[1] = value;
        else {
          const point = [t, value];
          point.live = true;
          series.points.push(point);
        }
      }
      series.points.sort((a, b) => a[0] - b[0]);
    }
  }

  function scheduleRequery(w, attempt = 0) {
    clearTimeout(w.timer);
    // The sink stores the window shortly after the stream showed it: then ask the store,
    // and again (a few times, further apart) while a live window is not stored yet.
    w.timer = setTimeout(async () => {
      await loadWidget(w);
      const pending = w.series.some((sr) => sr.points.some((p) => p.live));
      if (pending && attempt < 4) scheduleRequery(w, attempt + 1);
    }, REQUERY_DELAY_MS * (attempt + 1));
  }

  // --- anomalies and incidents ---------------------------------------------------------------

  async function loadAnomalies() {
    try {
      const body = await api("/anomalies", [
        ["start", `now-${state.config.default_time_range}`],
        ["per_page", "500"],
      ]);
      for (const item of body.data) {
        const id = item.anomaly.event_id;
        const known = state.anomalies.get(id);
        state.anomalies.set(id, { ...item, live: known ? known.live : false });
      }
      state.anomalyError = null;
    } catch (err) {
      if (err instanceof ApiFailure && (err.status === 401 || err.status === 403)) return;
      state.anomalyError = err.message;
    }
    renderKind("timeline");
  }

  function onAnomaly(item) {
    if (!item || !item.anomaly) return;
    state.anomalies.set(item.anomaly.event_id, { ...item, live: true });
    if (state.anomalies.size > MAX_ANOMALIES) {
      const oldest = [...state.anomalies.values()]
        .sort((a, b) => Date.parse(a.anomaly.timestamp) - Date.parse(b.anomaly.timestamp))[0];
      state.anomalies.delete(oldest.anomaly.event_id);
    }
    state.lastLive = { at: Date.now(), what: `${item.anomaly.anomaly_type} on ${item.anomaly.metric}` };
    setStream("anomalies", "open");
    renderKind("timeline");
    clearTimeout(state.incidentTimer); // an alert may have grown an incident
    state.incidentTimer = setTimeout(loadIncident, REQUERY_DELAY_MS);
  }

  async function loadIncident() {
    try {
      const body = await api("/correlations", [["per_page", "1"]]);
      state.correlation = body.data[0] || null;
      state.incidentError = null;
    } catch (err) {
      if (err instanceof ApiFailure && (err.status === 401 || err.status === 403)) return;
      state.incidentError = err.message;
    }
    renderKind("graph");
  }

  // --- rendering -----------------------------------------------------------------------------

  let W = 600; // viewBox width of the widget being drawn: 100 units per grid column
  const H = 220;
  const PAD = { l: 46, r: 10, t: 10, b: 22 };

  function color(i) {
    return PALETTE[i % PALETTE.length];
  }

  function legend(series) {
    return h("ul", { class: "legend" }, series.map((sr, i) => h("li", { "data-series": sr.label },
      s("svg", { viewBox: "0 0 10 10", "aria-hidden": "true" }, s("rect", { width: 10, height: 10, rx: 2, fill: color(i) })),
      sr.label)));
  }

  function timeScale() {
    const end = Date.now();
    const start = end - state.rangeMs;
    return { start, end, x: (t) => PAD.l + ((t - start) / (end - start)) * (W - PAD.l - PAD.r) };
  }

  function valueScale(values, floorZero = true) {
    let lo = floorZero ? 0 : Math.min(...values);
    let hi = Math.max(...values, 0);
    if (!values.length) hi = 1;
    if (hi === lo) hi = lo + 1;
    hi += (hi - lo) * 0.08;
    if (!floorZero) lo -= (hi - lo) * 0.05;
    return { lo, hi, y: (v) => PAD.t + (1 - (v - lo) / (hi - lo)) * (H - PAD.t - PAD.b) };
  }

  function axes(svg, ts, vs) {
    for (let i = 0; i <= 4; i++) {
      const v = vs.lo + ((vs.hi - vs.lo) * i) / 4;
      const y = vs.y(v);
      svg.append(s("line", { class: "grid", x1: PAD.l, x2: W - PAD.r, y1: y, y2: y }));
      svg.append(s("text", { x: PAD.l - 4, y: y + 3, "text-anchor": "end" }, fmt(v)));
    }
    for (let i = 0; i <= 4; i++) {
      const t = ts.start + ((ts.end - ts.start) * i) / 4;
      svg.append(s("text", { x: ts.x(t), y: H - 6, "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle" }, hhmm(t)));
    }
  }

  function inRange(series, ts) {
    return series.map((sr) => ({ ...sr, points: sr.points.filter((p) => p[0] >= ts.start - 60e3 && p[0] <= ts.end) }));
  }

  function stepMs(q, points) {
    const m = /^(\d+)([mhdw])$/.exec((q && q.resolution) || "");
    if (m) return Number(m[1]) * UNIT_MS[m[2]];
    let best = Infinity;
    for (let j = 1; j < points.length; j++) best = Math.min(best, points[j][0] - points[j - 1][0]);
    return Number.isFinite(best) ? best : 60e3;
  }

  function lineChart(w) {
    const ts = timeScale();
    const series = inRange(w.series, ts);
    const vs = valueScale(series.flatMap((sr) => sr.points.map((p) => p[1])));
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": w.config.title });
    axes(svg, ts, vs);
    series.forEach((sr, i) => {
      if (!sr.points.length) return;
      // A gap of more than two windows breaks the line: no data is not a straight trend.
      const gap = 2 * stepMs(w.queries[sr.qi], sr.points);
      const d = sr.points.map((p, j) => {
        const move = j === 0 || p[0] - sr.points[j - 1][0] > gap;
        return `${move ? "M" : "L"}${ts.x(p[0]).toFixed(1)},${vs.y(p[1]).toFixed(1)}`;
      }).join("");
      svg.append(s("path", { class: "series-line", d, stroke: color(i), "data-series": sr.label }));
      for (const p of sr.points) {
        svg.append(s("circle", {
          class: p.live ? "pt live" : "pt", cx: ts.x(p[0]).toFixed(1), cy: vs.y(p[1]).toFixed(1), r: 2.6,
          fill: color(i), "data-series": sr.label, "data-t": p[0], "data-value": p[1],
        }, s("title", {}, `${sr.label} ${hhmm(p[0])}: ${fmt(p[1])}`)));
      }
    });
    return [svg, legend(series)];
  }

  function barChart(w) {
    const ts = timeScale();
    const series = inRange(w.series, ts);
    const stacked = w.config.stacked !== false;
    const times = [...new Set(series.flatMap((sr) => sr.points.map((p) => p[0])))].sort((a, b) => a - b);
    const totals = times.map((t) => series.map((sr) => (sr.points.find((p) => p[0] === t) || [0, 0])[1]));
    const vs = valueScale(stacked ? totals.map((row) => row.reduce((a, b) => a + b, 0)) : totals.flat());
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": w.config.title });
    axes(svg, ts, vs);
    const step = times.length > 1 ? Math.min(...times.slice(1).map((t, i) => t - times[i])) : 60e3;
    const band = Math.max(2, (ts.x(ts.start + step) - ts.x(ts.start)) * 0.8);
    times.forEach((t) => {
      let base = 0;
      series.forEach((sr, i) => {
        const p = sr.points.find((q) => q[0] === t);
        if (!p) return;
        const width = stacked ? band : band / series.length;
        const x = ts.x(t) - band / 2 + (stacked ? 0 : i * width);
        const y0 = vs.y(stacked ? base : 0);
        const y1 = vs.y((stacked ? base : 0) + p[1]);
        base += stacked ? p[1] : 0;
        svg.append(s("rect", {
          class: p.live ? "bar live" : "bar", x: x.toFixed(1), y: Math.min(y0, y1).toFixed(1), width: width.toFixed(1),
          height: Math.max(Math.abs(y0 - y1), 0.5).toFixed(1), fill: color(i),
          "data-series": sr.label, "data-t": t, "data-value": p[1],
        }, s("title", {}, `${sr.label} ${hhmm(t)}: ${fmt(p[1])}`)));
      });
    });
    return [svg, legend(series)];
  }

  function latest(sr) {
    return sr.points.length ? sr.points[sr.points.length - 1] : null;
  }

  function gauge(w) {
    const sr = w.series.find((x) => x.points.length);
    const p = sr ? latest(sr) : null;
    const lo = Number(w.config.min ?? 0);
    const hi = Number(w.config.max ?? 100);
    const frac = p ? Math.max(0, Math.min(1, (p[1] - lo) / (hi - lo || 1))) : 0;
    const arc = (f) => {
      const a = Math.PI * (1 - f);
      return `M20,110 A90,90 0 0 1 ${(110 + 90 * Math.cos(a)).toFixed(2)},${(110 - 90 * Math.sin(a)).toFixed(2)}`;
    };
    const hue = frac < 0.5 ? "#ff6b6b" : frac < 0.8 ? "#ffb454" : "#3ecf8e";
    const svg = s("svg", { viewBox: "0 0 220 130", role: "img", "aria-label": w.config.title },
      s("path", { class: "gauge-bg", d: arc(1) }));
    if (p) {
      svg.append(s("path", { class: "gauge-value", d: arc(Math.max(frac, 0.001)), stroke: hue, "data-value": p[1] },
        s("title", {}, `${sr.label} ${hhmm(p[0])}: ${fmt(p[1])}`)));
    }
    svg.append(s("text", { class: "gauge-text", x: 110, y: 105, "text-anchor": "middle" }, p ? fmt(p[1]) : "–"));
    svg.append(s("text", { x: 20, y: 126, "text-anchor": "middle" }, fmt(lo)));
    svg.append(s("text", { x: 200, y: 126, "text-anchor": "middle" }, fmt(hi)));
    const note = p ? `${sr.label}, window ${hhmm(p[0])}` : "no data in the time range";
    return [svg, h("p", { class: "note" }, note)];
  }

  function stat(w) {
    return w.series.map((sr, i) => {
      const p = latest(sr);
      return h("div", { class: "stat", "data-series": sr.label },
        h("div", { class: "stat-value", "data-value": p ? p[1] : "" }, p ? fmt(p[1]) : "–"),
        h("div", { class: "stat-label" }, s("svg", { viewBox: "0 0 10 10", width: 10, height: 10 },
          s("rect", { width: 10, height: 10, fill: color(i) })), " ", sr.label));
    });
  }

  function table(w) {
    const rows = w.series.map((sr) => {
      const vals = sr.points.map((p) => p[1]);
      const p = latest(sr);
      return h("tr", { "data-series": sr.label }, h("td", {}, sr.label), h("td", {}, p ? fmt(p[1]) : "–"),
        h("td", {}, vals.length ? fmt(Math.min(...vals)) : "–"), h("td", {}, vals.length ? fmt(Math.max(...vals)) : "–"),
        h("td", {}, vals.length ? fmt(vals.reduce((a, b) => a + b, 0) / vals.length) : "–"));
    });
    return h("table", { class: "values" },
      h("thead", {}, h("tr", {}, ["series", "latest", "min", "max", "mean"].map((c) => h("th", {}, c)))),
      h("tbody", {}, rows));
  }

  function pie(w) {
    const totals = w.series.map((sr) => sr.points.reduce((a, p) => a + Math.max(p[1], 0), 0));
    const sum = totals.reduce((a, b) => a + b, 0);
    const svg = s("svg", { viewBox: "0 0 220 220", role: "img", "aria-label": w.config.title });
    let angle = -Math.PI / 2;
    totals.forEach((v, i) => {
      if (!sum || v <= 0) return;
      const f = v / sum;
      const a2 = angle + f * 2 * Math.PI;
      const large = f > 0.5 ? 1 : 0;
      const d = f >= 0.9999
        ? "M110,10 A100,100 0 1 1 109.99,10 Z"
        : `M110,110 L${110 + 100 * Math.cos(angle)},${110 + 100 * Math.sin(angle)} A100,100 0 ${large} 1 ${110 + 100 * Math.cos(a2)},${110 + 100 * Math.sin(a2)} Z`;
      svg.append(s("path", { d, fill: color(i), "data-series": w.series[i].label, "data-value": v },
        s("title", {}, `${w.series[i].label}: ${fmt(v)} (${(f * 100).toFixed(1)} %)`)));
      angle = a2;
    });
    return [svg, legend(w.series)];
  }

  function heatmap(w) {
    const ts = timeScale();
    const series = inRange(w.series, ts);
    const values = series.flatMap((sr) => sr.points.map((p) => p[1]));
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    const rowH = 18;
    const svg = s("svg", { viewBox: `0 0 ${W} ${series.length * rowH + 24}`, role: "img", "aria-label": w.config.title });
    const step = 60e3;
    series.forEach((sr, r) => {
      svg.append(s("text", { x: PAD.l - 4, y: r * rowH + 13, "text-anchor": "end" }, sr.label.slice(0, 10)));
      for (const p of sr.points) {
        const x = ts.x(p[0]);
        svg.append(s("rect", { x, y: r * rowH + 2, width: Math.max(ts.x(p[0] + step) - x - 1, 1), height: rowH - 3,
          fill: "#ff6b6b", "fill-opacity": (0.12 + 0.88 * ((p[1] - lo) / (hi - lo || 1))).toFixed(2),
          "data-series": sr.label, "data-t": p[0], "data-value": p[1] }, s("title", {}, `${sr.label} ${hhmm(p[0])}: ${fmt(p[1])}`)));
      }
    });
    svg.append(s("text", { x: PAD.l, y: series.length * rowH + 16 }, hhmm(ts.start)));
    svg.append(s("text", { x: W - PAD.r, y: series.length * rowH + 16, "text-anchor": "end" }, hhmm(ts.end)));
    return svg;
  }

  function timeline(w) {
    const ts = timeScale();
    const items = [...state.anomalies.values()]
      .filter((a) => Date.parse(a.anomaly.timestamp) >= ts.start - 60e3)
      .sort((a, b) => Date.parse(b.anomaly.timestamp) - Date.parse(a.anomaly.timestamp));
    const lanes = [...new Set(items.map((a) => a.anomaly.source_module))].sort();
    const laneH = 26;
    const height = Math.max(lanes.length, 1) * laneH + 26;
    const svg = s("svg", { viewBox: `0 0 ${W} ${height}`, role: "img", "aria-label": w.config.title });
    lanes.forEach((lane, i) => {
      const y = i * laneH + laneH / 2 + 4;
      svg.append(s("line", { class: "grid", x1: PAD.l + 50, x2: W - PAD.r, y1: y, y2: y }));
      svg.append(s("text", { class: "lane-label", x: PAD.l + 46, y: y + 3, "text-anchor": "end" }, lane));
    });
    const x = (t) => PAD.l + 50 + ((t - ts.start) / (ts.end - ts.start)) * (W - PAD.l - 50 - PAD.r);
    for (const item of items.slice().reverse()) {
      const a = item.anomaly;
      const y = lanes.indexOf(a.source_module) * laneH + laneH / 2 + 4;
      svg.append(s("circle", {
        class: "anomaly", cx: x(Math.max(Date.parse(a.timestamp), ts.start)).toFixed(1), cy: y,
        r: (3 + 6 * Math.min(Math.max(a.anomaly_score, 0), 1)).toFixed(1),
        fill: ANOMALY_COLORS[a.anomaly_type] || "#ffb454",
        "data-id": a.event_id, "data-metric": a.metric, "data-type": a.anomaly_type,
      }, s("title", {}, `${hhmm(Date.parse(a.timestamp))} ${a.anomaly_type} ${a.metric} (${a.source_module}): observed ${fmt(a.observed)} vs baseline ${fmt(a.baseline)}, score ${a.anomaly_score.toFixed(2)}`)));
    }
    for (let i = 0; i <= 4; i++) {
      const t = ts.start + ((ts.end - ts.start) * i) / 4;
      svg.append(s("text", { x: x(t), y: height - 6, "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle" }, hhmm(t)));
    }
    const list = h("ul", { class: "anomaly-list" }, items.slice(0, 50).map((item) => {
      const a = item.anomaly;
      return h("li", { class: item.live ? "live" : "", "data-id": a.event_id },
        h("span", { class: "when" }, hhmm(Date.parse(a.timestamp))),
        h("span", { class: "type" }, a.anomaly_type),
        h("span", { class: "metric" }, `${a.metric} (${a.source_module})`),
        h("span", {}, `${fmt(a.observed)} vs ${fmt(a.baseline)}, score ${a.anomaly_score.toFixed(2)}${item.episode ? ", " + item.episode : ""}`));
    }));
    const note = state.anomalyError ? h("p", { class: "note error" }, state.anomalyError)
      : items.length ? null : h("p", { class: "note" }, "no anomalies in the time range");
    return [svg, list, note];
  }

  function graph(w) {
    const c = state.correlation;
    if (state.incidentError) return h("p", { class: "note error" }, state.incidentError);
    if (!c) return h("p", { class: "note" }, "no incident stored yet");
    const nodes = new Map(c.anomalies.map((a) => [a.event_id, a]));
    const rc = c.root_cause || null;
    const links = rc ? rc.causal_chain.filter((l) => nodes.has(l.from_event_id) && nodes.has(l.to_event_id)) : [];
    const depth = new Map();
    if (rc && nodes.has(rc.root_event_id)) {
      depth.set(rc.root_event_id, 0);
      for (let changed = true, guard = 0; changed && guard < nodes.size; guard++) {
        changed = false;
        for (const l of links) {
          if (depth.has(l.from_event_id) && !depth.has(l.to_event_id)) {
            depth.set(l.to_event_id, depth.get(l.from_event_id) + 1);
            changed = true;
          }
        }
      }
    }
    const maxDepth = Math.max(0, ...depth.values());
    const extra = depth.size ? maxDepth + 1 : 0;
    for (const id of nodes.keys()) if (!depth.has(id)) depth.set(id, extra);
    const columns = new Map();
    for (const [id, d] of depth) (columns.get(d) || columns.set(d, []).get(d)).push(id);
    const colCount = Math.max(...columns.keys()) + 1;
    const rows = Math.max(...[...columns.values()].map((c2) => c2.length));
    const nodeW = 220;
    const nodeH = 40;
    const gapX = 130;
    const gapY = 16;
    const width = colCount * nodeW + (colCount - 1) * gapX + 20;
    const height = rows * (nodeH + gapY) + 10;
    const pos = new Map();
    for (const [d, ids] of columns) {
      ids.forEach((id, i) => pos.set(id, { x: 10 + d * (nodeW + gapX), y: 10 + i * (nodeH + gapY) }));
    }
    const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "incident graph", class: "incident-graph" },
      s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
        s("path", { d: "M0,0 L10,5 L0,10 z", fill: "#4fa3ff" }))));
    for (const l of links) {
      const a = pos.get(l.from_event_id);
      const b = pos.get(l.to_event_id);
      const x1 = a.x + nodeW;
      const y1 = a.y + nodeH / 2;
      const x2 = b.x;
      const y2 = b.y + nodeH / 2;
      const back = x2 <= x1;
      const d = back
        ? `M${a.x + nodeW / 2},${a.y + nodeH} C${a.x + nodeW / 2},${a.y + nodeH + 30} ${b.x + nodeW / 2},${b.y + nodeH + 30} ${b.x + nodeW / 2},${b.y + nodeH}`
        : `M${x1},${y1} C${(x1 + x2) / 2},${y1} ${(x1 + x2) / 2},${y2} ${x2},${y2}`;
      svg.append(s("path", { class: "edge", d, "marker-end": "url(#arrow)", "data-from": l.from_event_id, "data-to": l.to_event_id },
        s("title", {}, `${l.relationship}, strength ${l.strength.toFixed(2)}, +${(l.time_delta_ms / 1000).toFixed(0)} s`)));
      // Labelled next to the arrowhead, so the labels of a fan-out do not pile up.
      svg.append(s("text", { class: "edge-label", x: back ? (a.x + b.x + nodeW) / 2 : x2 - 8, y: back ? Math.max(a.y, b.y) + nodeH + 26 : y2 - 6, "text-anchor": back ? "middle" : "end" },
        `${l.relationship.replace(/_/g, " ")} ${l.strength.toFixed(2)}`));
    }
    for (const [id, a] of nodes) {
      const p = pos.get(id);
      const isRoot = rc && rc.root_event_id === id;
      const metric = a.metric.length > 30 ? a.metric.slice(0, 29) + "…" : a.metric;
      svg.append(s("g", { class: isRoot ? "node root" : "node", transform: `translate(${p.x},${p.y})`, "data-id": id, "data-metric": a.metric },
        s("title", {}, `${a.anomaly_type} ${a.metric} (${a.source_module}) at ${a.timestamp}: observed ${fmt(a.observed)} vs baseline ${fmt(a.baseline)}`),
        s("rect", { width: nodeW, height: nodeH, rx: 6 }),
        s("text", { class: "metric", x: 8, y: 16 }, metric),
        s("text", { x: 8, y: 31 }, `${a.source_module} · ${a.anomaly_type} · ${hhmm(Date.parse(a.timestamp))}`)));
    }
    const modules = c.impact.affected_modules.join(", ");
    const side = h("div", { class: "incident-text" },
      h("p", { class: "summary" }, `${c.anomalies.length} alerts across ${modules || "no module"}; strength ${c.strength.toFixed(2)}, severity ${c.impact.severity}; detected ${c.detected_at}`));
    if (rc) {
      const root = nodes.get(rc.root_event_id);
      side.append(h("p", { class: "root-cause", "data-id": rc.root_event_id },
        h("strong", {}, "Root cause: "),
        root ? `${root.metric} (${root.source_module}) at ${hhmm(Date.parse(root.timestamp))}` : rc.root_event_id,
        `, confidence ${rc.confidence.toFixed(2)}`));
      if (rc.contributing_factors.length) {
        side.append(h("h3", {}, "Contributing factors"), h("ul", { class: "factors" }, rc.contributing_factors.map((f) => h("li", {}, f))));
      }
      if (rc.recommendations.length) {
        side.append(h("h3", {}, "Recommendations"), h("ul", { class: "recommendations" }, rc.recommendations.map((r) => h("li", {}, r))));
      }
    } else {
      side.append(h("p", { class: "root-cause" }, "No root cause determined yet."));
    }
    return h("div", { class: "incident", "data-correlation-id": c.correlation_id }, svg, side);
  }

  const RENDERERS = {
    line_chart: lineChart, bar_chart: barChart, gauge, stat, table, pie_chart: pie, heatmap,
    timeline, graph,
  };

  function render(w) {
    W = Math.max(300, 100 * (Number(w.config.span) || 12));
    const drawn = RENDERERS[w.config.type](w);
    const parts = [drawn].flat();
    if (w.error) parts.push(h("p", { class: "note error" }, w.error));
    else if (w.loading && w.queries.length) parts.push(h("p", { class: "note" }, "loading…"));
    else if (w.queries.length && !w.series.some((sr) => sr.points.length)) {
      parts.push(h("p", { class: "note" }, "no data in the time range"));
    }
    w.body.replaceChildren(...parts.filter(Boolean));
  }

  function renderKind(type) {
    for (const w of state.widgets.values()) if (w.config.type === type) render(w);
  }

  // --- setup -------------------------------------------------------------------------------

  function build(config) {
    state.config = config;
    const m = /^(\d+)([mhdw])$/.exec(config.default_time_range);
    state.rangeMs = m ? Number(m[1]) * UNIT_MS[m[2]] : 3600e3;
    document.title = `${config.name} · LLM Analytics Hub`;
    $("#title").textContent = config.name;
    $("#range").textContent = `last ${config.default_time_range}` +
      (config.refresh_interval ? `, refreshed every ${config.refresh_interval} s` : "") + ", live";
    const grid = $("#grid");
    grid.replaceChildren();
    state.widgets.clear();
    for (const wc of config.widgets) {
      if (!RENDERERS[wc.type]) continue;
      const span = Math.min(Math.max(Number(wc.span) || 12, 1), 12);
      const body = h("div", { class: "body" });
      const el = h("section", { class: `widget span-${span} type-${wc.type}`, id: `w-${wc.id}`, "data-widget": wc.id },
        h("h2", {}, wc.title || wc.id, wc.unit ? h("span", { class: "unit" }, wc.unit) : null), body);
      grid.append(el);
      state.widgets.set(wc.id, { config: wc, queries: widgetQueries(wc), el, body, series: [], live: {}, timer: null, error: null, loading: true });
    }
  }

  function stopAll() {
    for (const ctrl of state.aborts) ctrl.abort();
    state.aborts = [];
    for (const t of state.timers) clearInterval(t);
    state.timers = [];
    for (const w of state.widgets.values()) clearTimeout(w.timer);
    clearTimeout(state.incidentTimer);
    document.body.dataset.metricsStream = "closed";
    document.body.dataset.anomaliesStream = "closed";
    state.started = false;
  }

  function refreshAll() {
    const jobs = [];
    for (const w of state.widgets.values()) if (w.queries.length) jobs.push(loadWidget(w));
    const types = new Set([...state.widgets.values()].map((w) => w.config.type));
    if (types.has("timeline")) jobs.push(loadAnomalies());
    if (types.has("graph")) jobs.push(loadIncident());
    return Promise.all(jobs);
  }

  async function start() {
    if (state.started) return;
    state.started = true;
    $("#key-form").hidden = true;
    $("#grid").hidden = false;
    status("loading the dashboard…");
    const id = new URLSearchParams(location.search).get("id") || "default";
    let body;
    try {
      body = await api(`/dashboards/${encodeURIComponent(id)}`);
    } catch (err) {
      if (!(err instanceof ApiFailure && (err.status === 401 || err.status === 403))) {
        status(`cannot load dashboard ${id}: ${err.message}`, "error");
      }
      state.started = false;
      return;
    }
    build(body.data);
    for (const w of state.widgets.values()) render(w);
    const byResolution = new Map();
    for (const w of state.widgets.values()) {
      for (const q of w.queries) {
        const res = q.resolution || "1m";
        if (!WINDOWS[res]) continue;
        (byResolution.get(res) || byResolution.set(res, new Set()).get(res)).add(q.metric);
      }
    }
    for (const [res, metrics] of byResolution) {
      stream("metrics", "/stream/metrics", [["metric", [...metrics].join(",")], ["resolution", res]], onMetric);
    }
    if ([...state.widgets.values()].some((w) => w.config.type === "timeline")) {
      stream("anomalies", "/stream/anomalies", [], onAnomaly);
    }
    await refreshAll();
    if (body.data.refresh_interval > 0) {
      state.timers.push(setInterval(refreshAll, body.data.refresh_interval * 1000));
    }
    // Re-draw the time axes as time passes even when nothing new arrives.
    state.timers.push(setInterval(() => { for (const w of state.widgets.values()) render(w); }, 15000));
    document.body.dataset.loaded = "true";
    if (document.body.dataset.metricsStream !== "open" && document.body.dataset.anomaliesStream !== "open") {
      status(`loaded ${hhmmss(Date.now())}; connecting the live streams…`);
    }
  }

  function init() {
    $("#key-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const key = $("#key-input").value.trim();
      if (!key) return;
      sessionStorage.setItem(KEY_STORE, key);
      $("#key-input").value = "";
      state.key = key;
      start();
    });
    window.addEventListener("hashchange", () => {
      const key = keyFromFragment();
      if (key && key !== state.key) {
        stopAll();
        state.key = key;
        start();
      }
    });
    state.key = keyFromFragment();
    if (state.key) start();
    else askForKey();
  }

  init();
})();
