// dantoc map page (/ban-do): pan and zoom (drag, wheel, pinch, buttons), layers on and off, the
// time slider, a unit's figures on a click or tap, finer boundaries when zoomed in, and the
// optional OpenStreetMap background. Everything but the last two and a unit's chart works
// from the page itself, offline. Without this script the form does the same by reloading.
(function () {
  "use strict";
  var box = document.getElementById("map");
  var svg = document.getElementById("map-svg");
  if (!box || !svg || !svg.viewBox) return;
  var NS = "http://www.w3.org/2000/svg";
  var ds = box.dataset;
  var colors = ds.colors ? ds.colors.split(" ") : [];
  var periods = ds.periods ? ds.periods.split(";") : [];
  var labels = ds.labels ? ds.labels.split("|") : [];
  var step = parseInt(ds.step, 10) || 0;
  var frame = { zoom: +ds.zoom, x0: +ds.x0, y0: +ds.y0 };
  var vb = svg.viewBox.baseVal;
  var home = { x: vb.x, y: vb.y, w: vb.width, h: vb.height };
  var units = Array.prototype.slice.call(svg.querySelectorAll(".units path"));
  var villages = Array.prototype.slice.call(svg.querySelectorAll(".villages circle"));
  var tiles = document.getElementById("map-tiles");
  var form = document.querySelector("form.map-form");
  var slider = document.getElementById("map-step");
  var selected = null;
  var VILLAGE_PX = 4.5; // radius of a village on screen, in CSS pixels

  // ------------------------------------------------------------------ view box
  function setView(x, y, w, h) {
    var z = home.w / w;
    if (z < 0.5 || z > 256) return;
    vb.x = x; vb.y = y; vb.width = w; vb.height = h;
    viewChanged();
  }
  function toSvg(cx, cy, ctm) {
    var p = svg.createSVGPoint();
    p.x = cx; p.y = cy;
    return p.matrixTransform(ctm || svg.getScreenCTM().inverse());
  }
  function zoomAt(p, f) {
    setView(p.x - (p.x - vb.x) / f, p.y - (p.y - vb.y) / f, vb.width / f, vb.height / f);
  }
  function zoomCentre(f) {
    zoomAt({ x: vb.x + vb.width / 2, y: vb.y + vb.height / 2 }, f);
  }
  var pending = null;
  function viewChanged() {
    sizeVillages();
    if (pending) clearTimeout(pending);
    pending = setTimeout(function () { pending = null; drawTiles(); loadDetail(); }, 250);
  }
  function sizeVillages() {
    var ctm = svg.getScreenCTM();
    if (!ctm || !ctm.a) return;
    var big = String(Math.round(VILLAGE_PX / ctm.a * 100) / 100);
    var small = String(Math.round(VILLAGE_PX * 0.6 / ctm.a * 100) / 100);
    for (var i = 0; i < villages.length; i++) {
      villages[i].setAttribute("r", villages[i].classList.contains("v1") ? big : small);
    }
  }

  // drag to pan, two fingers to zoom
  var pointers = {};
  var start = null;
  var moved = false;
  function begin() {
    var ids = Object.keys(pointers);
    var ctm = svg.getScreenCTM().inverse();
    start = { x: vb.x, y: vb.y, w: vb.width, h: vb.height, ctm: ctm, ids: ids };
    if (ids.length === 1) {
      var a = pointers[ids[0]];
      start.p = toSvg(a.x, a.y, ctm);
    } else if (ids.length >= 2) {
      var p = pointers[ids[0]], q = pointers[ids[1]];
      start.d = Math.hypot(p.x - q.x, p.y - q.y) || 1;
      start.m = toSvg((p.x + q.x) / 2, (p.y + q.y) / 2, ctm);
    }
  }
  svg.addEventListener("pointerdown", function (e) {
    if (e.button && e.button !== 0) return;
    pointers[e.pointerId] = { x: e.clientX, y: e.clientY, x0: e.clientX, y0: e.clientY };
    if (Object.keys(pointers).length === 1) moved = false;
    begin();
  });
  svg.addEventListener("pointermove", function (e) {
    var pt = pointers[e.pointerId];
    if (!pt || !start) return;
    pt.x = e.clientX; pt.y = e.clientY;
    if (Math.abs(pt.x - pt.x0) + Math.abs(pt.y - pt.y0) > 6) {
      if (!moved && svg.setPointerCapture) {
        try { svg.setPointerCapture(e.pointerId); } catch (err) { /* gone */ }
      }
      moved = true;
      svg.classList.add("dragging");
    }
    if (!moved) return;
    var ids = start.ids;
    if (ids.length === 1) {
      var c = toSvg(pt.x, pt.y, start.ctm);
      vb.x = start.x - (c.x - start.p.x);
      vb.y = start.y - (c.y - start.p.y);
      viewChanged();
    } else if (ids.length >= 2 && pointers[ids[0]] && pointers[ids[1]]) {
      var p = pointers[ids[0]], q = pointers[ids[1]];
      var f = Math.hypot(p.x - q.x, p.y - q.y) / start.d;
      var z = home.w / (start.w / f);
      if (z < 0.5 || z > 256) return;
      var m = toSvg((p.x + q.x) / 2, (p.y + q.y) / 2, start.ctm);
      vb.width = start.w / f; vb.height = start.h / f;
      vb.x = start.m.x - (m.x - start.x) / f;
      vb.y = start.m.y - (m.y - start.y) / f;
      viewChanged();
    }
  });
  function end(e) {
    if (!pointers[e.pointerId]) return;
    delete pointers[e.pointerId];
    svg.classList.remove("dragging");
    if (Object.keys(pointers).length) begin(); else start = null;
  }
  svg.addEventListener("pointerup", end);
  svg.addEventListener("pointercancel", end);
  svg.addEventListener("wheel", function (e) {
    e.preventDefault();
    zoomAt(toSvg(e.clientX, e.clientY), Math.exp(-e.deltaY * 0.0015));
  }, { passive: false });
  svg.addEventListener("dblclick", function (e) {
    e.preventDefault();
    zoomAt(toSvg(e.clientX, e.clientY), 2);
  });
  var tools = box.querySelector(".map-tools");
  if (tools) {
    tools.hidden = false;
    tools.addEventListener("click", function (e) {
      var b = e.target.closest("button");
      if (!b) return;
      if (b.dataset.zoom === "in") zoomCentre(2);
      else if (b.dataset.zoom === "out") zoomCentre(0.5);
      else setView(home.x, home.y, home.w, home.h);
    });
  }

  // ------------------------------------------------------------------ layers
  function syncUrl() {
    if (!form || !window.history || !history.replaceState) return;
    var q = new URLSearchParams(location.search);
    q.delete("lop");
    q.append("lop", "_");
    form.querySelectorAll("input[data-layer]").forEach(function (c) { if (c.checked) q.append("lop", c.value); });
    q.delete("ky");
    if (periods.length) q.set("t", String(step));
    history.replaceState(null, "", location.pathname + "?" + q.toString());
  }
  if (form) {
    form.querySelectorAll("input[data-layer]").forEach(function (c) {
      c.addEventListener("change", function () {
        var cls = c.dataset.layer;
        // the classes say what is off, except the background, which says what is on
        var off = cls === "osm" ? !c.checked : c.checked;
        box.classList.toggle(cls, !off);
        if (cls === "osm") {
          document.getElementById("map-osm-credit").hidden = !c.checked;
          drawTiles();
        }
        syncUrl();
      });
    });
  }

  // ------------------------------------------------------------------ time slider
  function part(s, i, sep) {
    var a = (s || "").split(sep);
    return i < a.length ? a[i] : "";
  }
  function showStep(i) {
    step = i;
    var label = labels[i] || "";
    var outs = [document.getElementById("map-period"), document.getElementById("map-step-out")];
    outs.forEach(function (o) { if (o) o.textContent = label; });
    var uom = ds.uom ? " " + ds.uom : "";
    units.forEach(function (u) {
      var c = part(u.dataset.c, i, " ");
      var v = part(u.dataset.v, i, "|");
      u.setAttribute("fill", c === "-" || c === "" ? "url(#map-nodata)" : colors[+c]);
      var t = u.querySelector("title");
      if (t) {
        t.textContent = u.dataset.name + ": " + (v ? v + uom + (part(u.dataset.e, i, " ") === "1" ? " (ước tính)" : "") : "không có số liệu");
      }
    });
    var uncovered = 0;
    villages.forEach(function (v) {
      var s = part(v.dataset.s, i, " ") || "-";
      if (s === "1") uncovered++;
      v.classList.remove("v0", "v1", "vn");
      v.classList.add(s === "1" ? "v1" : s === "0" ? "v0" : "vn");
      var t = v.querySelector("title");
      if (t) {
        // "Name (commune): state": the name is what comes before the last ": "
        var name = t.textContent.slice(0, t.textContent.lastIndexOf(": "));
        t.textContent = name + ": " + (s === "1" ? "chưa có sóng di động" : s === "0" ? "có sóng di động" : "chưa có số liệu");
      }
    });
    // villages without coverage on top
    villages.forEach(function (v) { if (v.classList.contains("v1")) v.parentNode.appendChild(v); });
    sizeVillages();
    document.querySelectorAll("#map-legend li").forEach(function (li) {
      var n = li.querySelector(".n");
      if (n) n.textContent = "(" + (part(li.dataset.n, i, " ") || "0") + ")";
    });
    var note = document.getElementById("map-villages-note");
    if (note && villages.length) {
      note.textContent = villages.length.toLocaleString("vi-VN") + " thôn, bản; " +
        uncovered.toLocaleString("vi-VN") + " chưa có sóng di động (" + label + ").";
    }
    if (selected) showPanel(selected);
  }
  if (slider) {
    slider.addEventListener("input", function () {
      showStep(parseInt(slider.value, 10) || 0);
      syncUrl();
    });
  }

  // ------------------------------------------------------------------ a unit's figures
  var panel = document.getElementById("map-panel");
  function showPanel(u) {
    if (!panel) return;
    if (selected && selected !== u) selected.classList.remove("selected");
    selected = u;
    u.classList.add("selected");
    // drawn last, so that its outline shows whole
    u.parentNode.appendChild(u);
    var uom = ds.uom ? " " + ds.uom : "";
    document.getElementById("panel-name").textContent = u.dataset.name;
    var now = part(u.dataset.v, step, "|");
    document.getElementById("panel-now").textContent = (labels[step] || "") + ": " +
      (now ? now + uom + (part(u.dataset.e, step, " ") === "1" ? " (ước tính)" : "") : "không có số liệu");
    var rows = document.getElementById("panel-rows");
    rows.textContent = "";
    periods.forEach(function (p, i) {
      var tr = document.createElement("tr");
      if (i === step) tr.className = "current";
      var th = document.createElement("th");
      th.textContent = labels[i];
      var td = document.createElement("td");
      td.className = "num";
      td.textContent = part(u.dataset.v, i, "|") || "—";
      tr.appendChild(th); tr.appendChild(td);
      rows.appendChild(tr);
    });
    var vnote = document.getElementById("panel-villages");
    var mine = villages.filter(function (v) { return v.dataset.p === u.dataset.code || units.length === 1; });
    if (mine.length) {
      var un = mine.filter(function (v) { return part(v.dataset.s, step, " ") === "1"; }).length;
      vnote.textContent = mine.length + " thôn, bản trên bản đồ; " + un + " chưa có sóng di động.";
    } else {
      vnote.textContent = "";
    }
    var img = document.getElementById("panel-chart");
    var cap = document.getElementById("panel-chart-note");
    if (periods.length) {
      var q = "dimension=" + encodeURIComponent("dx:" + ds.ct) +
        "&dimension=" + encodeURIComponent("ou:" + u.dataset.code) +
        "&dimension=" + encodeURIComponent("pe:" + periods.join(";")) +
        "&hierarchy=" + encodeURIComponent(ds.v) +
        "&chart=" + (periods.length > 1 ? "line" : "bar") +
        "&title=" + encodeURIComponent(u.dataset.name);
      img.alt = "Biểu đồ: " + u.dataset.name;
      cap.textContent = "";
      img.onerror = function () { cap.textContent = "Không tải được biểu đồ (mất kết nối?)."; };
      img.src = "/api/analytics.svg?" + q;
      img.parentNode.hidden = false;
    } else {
      img.parentNode.hidden = true;
    }
    var mapLink = document.getElementById("panel-map");
    mapLink.hidden = !u.dataset.map;
    if (u.dataset.map) mapLink.href = u.dataset.map;
    document.getElementById("panel-unit").href = u.dataset.unit;
    var wasHidden = panel.hidden;
    panel.hidden = false;
    if (wasHidden && panel.scrollIntoView) panel.scrollIntoView({ block: "nearest" });
  }
  svg.addEventListener("click", function (e) {
    if (moved) return;
    var u = e.target.closest ? e.target.closest(".units path") : null;
    if (u) showPanel(u);
  });
  var close = document.getElementById("panel-close");
  if (close) {
    close.addEventListener("click", function () {
      panel.hidden = true;
      if (selected) selected.classList.remove("selected");
      selected = null;
    });
  }

  // ------------------------------------------------------------------ finer boundaries
  var detail = 1;
  var loading = false;
  function lonlat(x, y) {
    var n = 256 * Math.pow(2, frame.zoom);
    var wx = x + frame.x0, wy = y + frame.y0;
    var lat = Math.atan(Math.sinh(Math.PI * (1 - 2 * wy / n))) * 180 / Math.PI;
    return [wx / n * 360 - 180, lat];
  }
  function loadDetail() {
    var z = home.w / vb.width;
    var want = z >= 12 ? 16 : z >= 3 ? 4 : 1;
    if (want <= 1 || loading || !window.fetch) return;
    var a = lonlat(vb.x, vb.y + vb.height), b = lonlat(vb.x + vb.width, vb.y);
    var key = want + ":" + [a[0], a[1], b[0], b[1]].map(function (v) { return v.toFixed(3); }).join(",");
    if (key === detail) return;
    loading = true;
    var bbox = [a[0], a[1], b[0], b[1]].map(function (v) { return v.toFixed(5); }).join(",");
    fetch("/api/maps/boundaries.json?ou=" + encodeURIComponent(ds.ou) + "&v=" + ds.v +
      "&detail=" + want + "&bbox=" + bbox, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) {
        loading = false;
        if (!j || !j.frame || j.frame.zoom !== frame.zoom || j.frame.x0 !== frame.x0 || j.frame.y0 !== frame.y0) return;
        detail = key;
        var scale = "scale(" + (1 / j.detail) + ")";
        units.forEach(function (u) {
          var d = j.paths[u.dataset.code];
          if (d && (+(u.dataset.detail || 1)) < j.detail) {
            u.setAttribute("d", d);
            u.setAttribute("transform", scale);
            u.dataset.detail = String(j.detail);
          }
        });
      })
      .catch(function () { loading = false; });
  }

  // ------------------------------------------------------------------ OpenStreetMap tiles
  function drawTiles() {
    if (!tiles) return;
    var on = box.classList.contains("osm");
    while (tiles.firstChild) tiles.removeChild(tiles.firstChild);
    if (!on) return;
    var ctm = svg.getScreenCTM();
    if (!ctm) return;
    var ppu = ctm.a * (window.devicePixelRatio || 1);
    var zt = Math.max(0, Math.min(19, Math.round(frame.zoom + Math.log(ppu) / Math.LN2)));
    var t = 256 * Math.pow(2, frame.zoom - zt);
    var n = Math.pow(2, zt);
    var x1 = Math.floor((vb.x + frame.x0) / t), x2 = Math.floor((vb.x + vb.width + frame.x0) / t);
    var y1 = Math.floor((vb.y + frame.y0) / t), y2 = Math.floor((vb.y + vb.height + frame.y0) / t);
    if ((x2 - x1 + 1) * (y2 - y1 + 1) > 64) return;
    for (var x = x1; x <= x2; x++) {
      for (var y = Math.max(0, y1); y <= Math.min(n - 1, y2); y++) {
        var im = document.createElementNS(NS, "image");
        var tx = ((x % n) + n) % n;
        im.setAttribute("href", "https://tile.openstreetmap.org/" + zt + "/" + tx + "/" + y + ".png");
        im.setAttribute("x", String(x * t - frame.x0));
        im.setAttribute("y", String(y * t - frame.y0));
        im.setAttribute("width", String(t));
        im.setAttribute("height", String(t));
        im.setAttribute("preserveAspectRatio", "none");
        tiles.appendChild(im);
      }
    }
  }

  window.addEventListener("resize", function () { sizeVillages(); });
  sizeVillages();
  drawTiles();
})();
