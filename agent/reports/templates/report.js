(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var data = JSON.parse(document.getElementById("mllens-data").textContent);
  // FAIL counts the open failing findings, MUTED the failing ones a mute rule accepts.
  var STATUS = ["FAIL", "MUTED", "UNKNOWN", "PASS", "NOT_APPLICABLE"];
  var STATUS_COLOR = { FAIL: "#c62828", MUTED: "#6e7781", UNKNOWN: "#d48a00", PASS: "#2e7d32",
    NOT_APPLICABLE: "#9e9e9e" };
  var STATUS_LABEL = { FAIL: "open", MUTED: "muted", UNKNOWN: "unknown", PASS: "pass",
    NOT_APPLICABLE: "not applicable" };

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    if (parent) { parent.appendChild(node); }
    return node;
  }
  function label(parent, x, y, text, attrs) {
    var t = el("text", Object.assign({ x: x, y: y, "font-size": 12, fill: "#1f2328" },
      attrs || {}), parent);
    t.textContent = text;  // never markup: names and reasons come from the scanned accounts
    return t;
  }
  function tip(node, text) { el("title", {}, node).textContent = text; }
  function svgFor(id, width, height) {
    var svg = document.getElementById(id);
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    return svg;
  }
  function done(svg, marks) {
    // Recorded so a reader (or a headless browser test) can tell the chart was laid out.
    var box = svg.getBoundingClientRect();
    svg.setAttribute("data-marks", marks);
    svg.setAttribute("data-rendered", Math.round(box.width) + "x" + Math.round(box.height));
  }
  function empty(svg, text) { label(svg, 20, 40, text, { fill: "#57606a" }); }

  function posture() {
    var rows = data.posture, W = 640, rowH = 30, top = 12, left = 190, right = 60;
    var svg = svgFor("chart-posture", W, top + rows.length * rowH + 12);
    var max = 0, marks = 0;
    rows.forEach(function (r) {
      var t = STATUS.reduce(function (a, s) { return a + r.counts[s]; }, 0);
      max = Math.max(max, t);
    });
    rows.forEach(function (r, i) {
      var y = top + i * rowH, x = left, total = 0;
      label(svg, 8, y + 18, r.label);
      STATUS.forEach(function (s) {
        var n = r.counts[s];
        total += n;
        if (!n || !max) { return; }
        var w = (W - left - right) * n / max;
        var rect = el("rect", { x: x, y: y + 4, width: w, height: rowH - 10,
          fill: STATUS_COLOR[s], "class": "bar bar-" + s }, svg);
        tip(rect, r.label + ": " + n + " " + STATUS_LABEL[s]);
        x += w;
        marks += 1;
      });
      label(svg, x + 6, y + 18, String(total), { fill: "#57606a" });
    });
    if (!max) { empty(svg, "no findings in this report"); }
    done(svg, marks);
  }

  function axes(svg, W, H, pad, maxY, points) {
    el("line", { x1: pad.l, y1: H - pad.b, x2: W - pad.r, y2: H - pad.b, stroke: "#8c959f" }, svg);
    el("line", { x1: pad.l, y1: pad.t, x2: pad.l, y2: H - pad.b, stroke: "#8c959f" }, svg);
    label(svg, pad.l - 8, pad.t + 4, String(maxY), { "text-anchor": "end", fill: "#57606a" });
    label(svg, pad.l - 8, H - pad.b, "0", { "text-anchor": "end", fill: "#57606a" });
    if (points.length) {
      label(svg, pad.l, H - 8, points[0].at.slice(0, 10), { fill: "#57606a" });
      label(svg, W - pad.r, H - 8, points[points.length - 1].at.slice(0, 10),
        { "text-anchor": "end", fill: "#57606a" });
    }
  }

  function trendStatus() {
    var pts = data.trend, W = 640, H = 260, pad = { l: 48, r: 16, t: 16, b: 36 };
    var svg = svgFor("chart-trend-status", W, H), marks = 0;
    if (!pts.length) { empty(svg, "no finished scans in the history yet"); done(svg, 0); return; }
    var maxY = Math.max(1, Math.max.apply(null, pts.map(function (p) {
      return STATUS.reduce(function (a, s) { return a + p.status[s]; }, 0);
    })));
    axes(svg, W, H, pad, maxY, pts);
    var slot = (W - pad.l - pad.r) / pts.length, bw = Math.max(4, Math.min(40, slot * 0.7));
    pts.forEach(function (p, i) {
      var x = pad.l + i * slot + (slot - bw) / 2, y = H - pad.b;
      STATUS.forEach(function (s) {
        var n = p.status[s];
        if (!n) { return; }
        var h = (H - pad.t - pad.b) * n / maxY;
        y -= h;
        var rect = el("rect", { x: x, y: y, width: bw, height: h, fill: STATUS_COLOR[s],
          "class": "bar bar-" + s }, svg);
        tip(rect, "scan " + p.uid + " " + p.at + ": " + n + " " + STATUS_LABEL[s]);
        marks += 1;
      });
    });
    done(svg, marks);
  }

  function trendPillars() {
    var pts = data.trend, W = 640, H = 260, pad = { l: 48, r: 16, t: 16, b: 36 };
    var svg = svgFor("chart-trend-pillar", W, H), marks = 0;
    if (!pts.length) { empty(svg, "no finished scans in the history yet"); done(svg, 0); return; }
    var maxY = 1;
    pts.forEach(function (p) {
      data.pillars.forEach(function (q) { maxY = Math.max(maxY, p.fail_by_pillar[q.key]); });
    });
    axes(svg, W, H, pad, maxY, pts);
    var step = pts.length > 1 ? (W - pad.l - pad.r) / (pts.length - 1) : 0;
    data.pillars.forEach(function (q) {
      var color = q.color;
      var xy = pts.map(function (p, i) {
        var x = pts.length > 1 ? pad.l + i * step : (W + pad.l - pad.r) / 2;
        var y = H - pad.b - (H - pad.t - pad.b) * p.fail_by_pillar[q.key] / maxY;
        return [x, y, p];
      });
      if (xy.length > 1) {
        el("polyline", { points: xy.map(function (c) { return c[0] + "," + c[1]; }).join(" "),
          fill: "none", stroke: color, "stroke-width": 2, "class": "line" }, svg);
        marks += 1;
      }
      xy.forEach(function (c) {
        var dot = el("circle", { cx: c[0], cy: c[1], r: 3.5, fill: color, "class": "point" },
          svg);
        tip(dot, q.label + " " + c[2].at + ": " + c[2].fail_by_pillar[q.key] + " open");
        marks += 1;
      });
    });
    done(svg, marks);
  }

  posture();
  trendStatus();
  trendPillars();
  document.body.setAttribute("data-charts", "ready");
})();
