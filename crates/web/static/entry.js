// dantoc data entry page: saves each cell as it is typed. Every edit goes into a queue in
// IndexedDB first; batches of queued cells are sent to POST /api/dataEntry with an id made
// here (crypto.randomUUID) and the SHA-256 of their content (crypto.subtle), and leave the
// queue only once the server has acknowledged them — a batch sent twice (an answer lost on a
// weak link) is applied once. With no network the queue waits; the service worker keeps the
// page so that it opens again offline. A cell changed meanwhile by someone else comes back as
// a conflict, shown on the cell for the officer to resolve.
// Without this script the page is a plain form that saves every cell at once.
(function () {
  "use strict";
  var form = document.getElementById("entry");
  if (!form || !window.indexedDB || !window.crypto || !crypto.subtle || !crypto.randomUUID) return;
  var FORM = form.dataset.form, OU = form.dataset.ou, PE = form.dataset.pe, CSRF = form.dataset.csrf;
  var EN = form.dataset.lang === "en";
  var T = EN ? {
    saved: "Saved", pending: "Waiting to send", offline: "Offline", storing: "Keeping on this device…",
    conflicts: "conflicts", relogin: "Your session has ended: log in again (the values are kept on this device).",
    refused: "Not saved", server: "On the server", keep: "Keep my value", take: "Take the server's value",
    before: "Before", pendingSubmit: "Some values are not sent yet: wait for “Saved”.", notSubmitted: "Not submitted"
  } : {
    saved: "Đã lưu", pending: "Đang chờ gửi", offline: "Ngoại tuyến", storing: "Đang ghi vào máy…",
    conflicts: "ô xung đột", relogin: "Phiên đăng nhập đã hết: hãy đăng nhập lại (các giá trị vẫn được giữ trên máy).",
    refused: "Không lưu được", server: "Trên máy chủ", keep: "Giữ giá trị của tôi", take: "Lấy giá trị trên máy chủ",
    before: "Kỳ trước", pendingSubmit: "Còn giá trị chưa gửi: hãy đợi đến khi hiện “Đã lưu”.", notSubmitted: "Chưa nộp được"
  };
  var PREFIX = FORM + "|" + OU + "|" + PE + "|";
  var statusEl = document.getElementById("entry-status");
  var inputs = Array.prototype.slice.call(form.querySelectorAll("input[data-ind]"));
  var byKey = {};
  inputs.forEach(function (i) { byKey[PREFIX + i.dataset.ind + "|" + i.dataset.dis] = i; });
  function keyOf(input) { return PREFIX + input.dataset.ind + "|" + input.dataset.dis; }

  // ---- IndexedDB: pending edits, batches sent but not acknowledged, the last known server
  // state of each cell, unresolved conflicts
  var dbp = new Promise(function (resolve, reject) {
    var r = indexedDB.open("dantoc-nhap-lieu", 1);
    r.onupgradeneeded = function () {
      var db = r.result;
      db.createObjectStore("pending", { keyPath: "key" });
      db.createObjectStore("batches", { keyPath: "id" });
      db.createObjectStore("known", { keyPath: "key" });
      db.createObjectStore("conflicts", { keyPath: "key" });
    };
    r.onsuccess = function () { resolve(r.result); };
    r.onerror = function () { reject(r.error); };
  });
  // writes not yet committed: until they are, a reload could lose them, so the status line
  // says so instead of counting them as kept
  var writing = 0;
  function tx(stores, mode, work) {
    var writes = mode === "readwrite";
    if (writes) writing++;
    var done = function () { if (writes && --writing === 0) status(); };
    return dbp.then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(stores, mode);
        var out;
        t.oncomplete = function () { done(); resolve(out); };
        t.onerror = t.onabort = function () { done(); reject(t.error); };
        out = work(t);
      });
    }, function (e) { done(); throw e; });
  }
  function all(store) {
    return tx([store], "readonly", function (t) {
      var box = { rows: [] };
      t.objectStore(store).getAll().onsuccess = function (e) { box.rows = e.target.result; };
      return box;
    }).then(function (box) { return box.rows; });
  }
  function mine(rows) { return rows.filter(function (r) { return (r.key || r.prefix || "").indexOf(PREFIX) === 0; }); }

  // ---- cells
  var known = {};      // key -> {value, version}
  var pending = {};    // key -> {value, base, after}
  var inflight = {};   // key -> batch id (batches stored, not acknowledged)
  var conflicts = {};  // key -> {mine, theirs:{value, version, by, at}}

  function cellOf(input) { return input.closest("td"); }
  function msgOf(input) { return document.getElementById(input.id + ":m"); }
  function setMsg(input, text, kind) {
    var td = cellOf(input), m = msgOf(input);
    td.classList.remove("invalid", "conflict");
    input.removeAttribute("aria-invalid");
    if (m) m.textContent = "";
    if (!text) return;
    if (kind === "error") { td.classList.add("invalid"); input.setAttribute("aria-invalid", "true"); }
    if (m) m.textContent = text;
  }
  function mark(input) {
    var k = keyOf(input);
    cellOf(input).classList.toggle("pending", !!pending[k] || !!inflight[k]);
  }
  function showConflict(input, c) {
    var td = cellOf(input), m = msgOf(input);
    setMsg(input, "", null);
    td.classList.add("conflict");
    m.textContent = "";
    var p = document.createElement("span");
    var when = (c.theirs.at || "").replace("T", " ").slice(0, 16);
    p.textContent = T.server + ": ";
    var b = document.createElement("b");
    b.textContent = c.theirs.value === null || c.theirs.value === undefined ? "—" : c.theirs.value;
    p.appendChild(b);
    p.appendChild(document.createTextNode(" (" + (c.theirs.by || "") + (when ? ", " + when : "") + ")"));
    m.appendChild(p);
    var box = document.createElement("span");
    box.className = "conflict-actions";
    var keep = document.createElement("button");
    keep.type = "button"; keep.textContent = T.keep;
    keep.addEventListener("click", function () { resolveConflict(input, true); });
    var take = document.createElement("button");
    take.type = "button"; take.textContent = T.take;
    take.addEventListener("click", function () { resolveConflict(input, false); });
    box.appendChild(keep); box.appendChild(take);
    m.appendChild(box);
  }

  function norm(v) {
    var s = String(v).replace(/\s+/g, "");
    if (s.indexOf(",") >= 0 && s.indexOf(".") < 0 && s.split(",").length === 2) s = s.replace(",", ".");
    return s;
  }
  function num(v) {
    var s = norm(v);
    if (s === "") return null;
    var n = Number(s);
    return isFinite(n) ? n : null;
  }
  var fmt = new Intl.NumberFormat(EN ? "en" : "vi", { maximumFractionDigits: 2 });

  // totals of the tables whose figures add up
  function totals(table) {
    if (!table.classList.contains("sums")) return;
    var rows = table.tBodies[0].rows, colSums = [], grand = 0;
    var ncols = rows.length ? rows[0].querySelectorAll("input[data-ind]").length : 0;
    Array.prototype.forEach.call(rows, function (tr) {
      var sum = 0;
      tr.querySelectorAll("input[data-ind]").forEach(function (inp, j) {
        var n = num(inp.value);
        if (n !== null) { sum += n; colSums[j] = (colSums[j] || 0) + n; grand += n; }
      });
      var t = tr.querySelector("td.total");
      if (t) t.textContent = fmt.format(sum);
    });
    var foot = table.tFoot && table.tFoot.querySelectorAll("td.total");
    if (foot) foot.forEach(function (td, j) {
      td.textContent = fmt.format(j < ncols ? (colSums[j] || 0) : grand);
    });
  }

  // ---- status line
  var online = navigator.onLine, failure = "";
  function status() {
    var n = Object.keys(pending).length;
    Object.keys(inflight).forEach(function (k) { if (!pending[k]) n++; });
    var c = Object.keys(conflicts).length;
    var text, cls;
    if (failure) { text = failure; cls = "failed"; }
    else if (writing) { text = (online ? "" : T.offline + " — ") + T.storing; cls = online ? "pending" : "offline"; }
    else if (!online) { text = T.offline + (n ? " — " + T.pending.toLowerCase() + " (" + n + ")" : ""); cls = "offline"; }
    else if (n) { text = T.pending + " (" + n + ")"; cls = "pending"; }
    else { text = T.saved; cls = "saved"; }
    if (c) text += " · " + c + " " + T.conflicts;
    statusEl.hidden = false;
    statusEl.textContent = text;
    statusEl.className = "entry-status " + cls;
    form.dataset.pending = String(n);
  }

  // ---- queue
  function currentValue(k) {
    if (pending[k]) return pending[k].value;
    return known[k] ? known[k].value : null;
  }
  function enqueue(input) {
    var k = keyOf(input);
    var v = norm(input.value);
    var value = v === "" ? null : v;
    var c = conflicts[k];
    var base, after = null;
    if (c) {
      // the officer saw the server's value beside the cell and typed over it
      base = c.theirs.version;
      delete conflicts[k];
      tx(["conflicts"], "readwrite", function (t) { t.objectStore("conflicts").delete(k); });
    } else if (pending[k]) {
      base = pending[k].base; after = pending[k].after;
      if (pending[k].value === value) return Promise.resolve();
    } else if (inflight[k]) {
      base = null; after = inflight[k];
    } else {
      if ((known[k] ? known[k].value : null) === value) return Promise.resolve();
      base = known[k] ? known[k].version : 0;
    }
    var row = { key: k, indicator: input.dataset.ind, disagg: input.dataset.dis, value: value, base: base, after: after };
    pending[k] = row;
    setMsg(input, "", null);
    mark(input);
    status();
    return tx(["pending"], "readwrite", function (t) { t.objectStore("pending").put(row); })
      .then(function () { flushSoon(0); });
  }

  function hex(buf) {
    return Array.prototype.map.call(new Uint8Array(buf), function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  // freeze the pending edits of this page into a batch (id and hash fixed once, so that a
  // batch sent again is the same batch)
  function freeze() {
    var rows = Object.keys(pending).map(function (k) { return pending[k]; })
      .filter(function (r) { return r.after === null; })
      .sort(function (a, b) { return a.key < b.key ? -1 : 1; }).slice(0, 200);
    if (!rows.length) return Promise.resolve(null);
    var values = rows.map(function (r) { return { indicator: r.indicator, disagg: r.disagg, value: r.value, baseVersion: r.base }; });
    var canonical = JSON.stringify([FORM, OU, PE, values.map(function (v) { return [v.indicator, v.disagg, v.value, null, v.baseVersion]; })]);
    return crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical)).then(function (d) {
      var id = crypto.randomUUID();
      var body = { batchId: id, hash: hex(d), form: FORM, orgUnit: OU, period: PE, values: values };
      var batch = { id: id, prefix: PREFIX, created: Date.now(), body: JSON.stringify(body), keys: rows.map(function (r) { return r.key; }) };
      return tx(["pending", "batches"], "readwrite", function (t) {
        rows.forEach(function (r) { t.objectStore("pending").delete(r.key); });
        t.objectStore("batches").put(batch);
      }).then(function () {
        rows.forEach(function (r) { delete pending[r.key]; inflight[r.key] = id; });
        return batch;
      });
    });
  }

  function applyResults(batch, answer) {
    var body = JSON.parse(batch.body);
    var base = {};
    body.values.forEach(function (v) { base[PREFIX + v.indicator + "|" + v.disagg] = v.baseVersion; });
    var writes = [];
    (answer.values || []).forEach(function (v) {
      var k = PREFIX + v.indicator + "|" + v.disagg;
      var input = byKey[k];
      if (inflight[k] === batch.id) delete inflight[k];
      var server = { key: k, value: v.value === undefined ? null : v.value, version: v.version };
      known[k] = server;
      writes.push(["known", server]);
      var p = pending[k];
      if (p && p.after === batch.id) {
        // edited again while this batch was out: based on what the server now holds
        p.base = v.status === "saved" ? v.version : base[k];
        p.after = null;
        writes.push(["pending", p]);
      }
      if (!input) return;
      input.dataset.base = String(v.version);
      if (v.status === "saved") {
        setMsg(input, "", null);
        if (!p && document.activeElement !== input) input.value = server.value === null ? "" : server.value;
      } else if (v.status === "conflict") {
        var c = { key: k, mine: v.mine === undefined ? null : v.mine, theirs: { value: server.value, version: v.version, by: v.updatedBy, at: v.updatedAt } };
        conflicts[k] = c;
        writes.push(["conflicts", c]);
        showConflict(input, c);
      } else {
        setMsg(input, T.refused + ": " + (v.message || ""), "error");
      }
      mark(input);
      totals(input.closest("table"));
    });
    return tx(["batches", "known", "pending", "conflicts"], "readwrite", function (t) {
      t.objectStore("batches").delete(batch.id);
      writes.forEach(function (w) { t.objectStore(w[0]).put(w[1]); });
    });
  }

  var sending = false, again = false, timer = null, backoff = 2000;
  function flushSoon(ms) {
    if (timer) clearTimeout(timer);
    timer = setTimeout(function () { timer = null; flush(); }, ms);
  }
  function flush() {
    if (sending) { again = true; return Promise.resolve(); }
    online = navigator.onLine;
    status();
    if (!online) return Promise.resolve();
    sending = true;
    return all("batches").then(function (rows) {
      rows = mine(rows).sort(function (a, b) { return a.created - b.created; });
      return rows.length ? rows[0] : freeze();
    }).then(function (batch) {
      if (!batch) return false;
      return send(batch);
    }).then(function (more) {
      sending = false;
      status();
      if (more || again) { again = false; flushSoon(0); }
    }, function () {
      sending = false;
      status();
      flushSoon(backoff);
      backoff = Math.min(backoff * 2, 60000);
    });
  }
  function send(batch) {
    return fetch("/api/dataEntry", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": CSRF },
      body: batch.body
    }).then(function (r) {
      if (r.ok) {
        backoff = 2000; failure = "";
        return r.json().then(function (answer) { return applyResults(batch, answer); }).then(function () { return true; });
      }
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (r.status === 401) { failure = T.relogin; return false; }
        if (r.status === 400 || r.status === 404 || r.status === 409) {
          // the batch as a whole is refused: it would be refused again, so it leaves the queue;
          // its values stay in their cells, marked, for the officer to see
          var body = JSON.parse(batch.body), moved = [];
          body.values.forEach(function (v) {
            var k = PREFIX + v.indicator + "|" + v.disagg;
            delete inflight[k];
            var p = pending[k];
            if (p && p.after === batch.id) { p.after = null; p.base = v.baseVersion; moved.push(p); }
            if (byKey[k]) { setMsg(byKey[k], T.refused + ": " + (j.message || r.status), "error"); mark(byKey[k]); }
          });
          return tx(["batches", "pending"], "readwrite", function (t) {
            t.objectStore("batches").delete(batch.id);
            moved.forEach(function (p) { t.objectStore("pending").put(p); });
          }).then(function () { return true; });
        }
        failure = T.refused + ": " + (j.message || r.status);
        throw new Error(failure);
      });
    });
  }

  // ---- conflicts
  function resolveConflict(input, keepMine) {
    var k = keyOf(input), c = conflicts[k];
    if (!c) return;
    delete conflicts[k];
    var work = tx(["conflicts", "pending"], "readwrite", function (t) {
      t.objectStore("conflicts").delete(k);
      if (!keepMine) t.objectStore("pending").delete(k);
    });
    setMsg(input, "", null);
    if (keepMine) {
      var value = norm(input.value);
      var row = { key: k, indicator: input.dataset.ind, disagg: input.dataset.dis, value: value === "" ? null : value, base: c.theirs.version, after: null };
      pending[k] = row;
      work = work.then(function () { return tx(["pending"], "readwrite", function (t) { t.objectStore("pending").put(row); }); });
    } else {
      delete pending[k];
      input.value = c.theirs.value === null ? "" : c.theirs.value;
      input.dataset.base = String(c.theirs.version);
      totals(input.closest("table"));
    }
    mark(input);
    status();
    work.then(function () { flushSoon(0); });
  }

  // ---- the page
  var timers = {};
  inputs.forEach(function (input) {
    input.addEventListener("input", function () {
      totals(input.closest("table"));
      var k = keyOf(input);
      clearTimeout(timers[k]);
      timers[k] = setTimeout(function () { enqueue(input); }, 700);
    });
    input.addEventListener("change", function () {
      clearTimeout(timers[keyOf(input)]);
      enqueue(input);
    });
    input.addEventListener("keydown", function (e) {
      // Enter moves on to the next cell, as in a spreadsheet
      if (e.key === "Enter") {
        e.preventDefault();
        enqueue(input);
        var i = inputs.indexOf(input);
        if (i + 1 < inputs.length) inputs[i + 1].focus();
      }
    });
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    Promise.all(inputs.map(enqueue)).then(function () { flushSoon(0); });
  });
  window.addEventListener("online", function () { online = true; failure = ""; status(); flushSoon(0); });
  window.addEventListener("offline", function () { online = false; status(); });
  setInterval(function () { if (Object.keys(pending).length || Object.keys(inflight).length) flush(); }, 15000);

  // what this device knows better than the page (the page may come from the offline copy)
  Promise.all([all("known"), all("pending"), all("batches"), all("conflicts")]).then(function (r) {
    inputs.forEach(function (input) {
      var k = keyOf(input), v = Number(input.dataset.base || 0);
      known[k] = { key: k, value: v > 0 ? (input.dataset.orig || "") : null, version: v };
    });
    mine(r[0]).forEach(function (s) { if (byKey[s.key] && s.version > known[s.key].version) known[s.key] = s; });
    mine(r[2]).forEach(function (b) {
      JSON.parse(b.body).values.forEach(function (v) {
        var k = PREFIX + v.indicator + "|" + v.disagg;
        inflight[k] = b.id;
        if (byKey[k]) byKey[k].value = v.value === null ? "" : v.value;
      });
    });
    mine(r[1]).forEach(function (p) {
      if (p.after !== null && !mine(r[2]).some(function (b) { return b.id === p.after; })) {
        // its batch is gone (acknowledged or refused in another tab): based on what is known
        p.after = null;
        if (p.base === null) p.base = known[p.key] ? known[p.key].version : 0;
      }
      pending[p.key] = p;
      if (byKey[p.key]) byKey[p.key].value = p.value === null ? "" : p.value;
    });
    inputs.forEach(function (input) {
      var k = keyOf(input);
      if (!pending[k] && !inflight[k] && known[k].version > Number(input.dataset.base || 0)) {
        input.value = known[k].value === null ? "" : known[k].value;
      }
      input.dataset.base = String(known[k].version);
      mark(input);
    });
    mine(r[3]).forEach(function (c) { if (byKey[c.key]) { conflicts[c.key] = c; showConflict(byKey[c.key], c); } });
    form.querySelectorAll("table.entry").forEach(totals);
    status();
    flushSoon(0);
  });

  // the service worker keeps the page, this script and the stylesheet for offline use
  if (navigator.serviceWorker) {
    navigator.serviceWorker.register("/nhap-lieu/sw.js", { scope: "/nhap-lieu/" }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function () {
      if (!navigator.onLine) return;
      return caches.open("dantoc-nhap-lieu-trang").then(function (c) { return c.add(location.href); });
    }).then(function () {
      document.documentElement.dataset.offlineReady = "1";
    }).catch(function () {});
  }

  // submit the form for approval: through the workflow's API, once every value has left the
  // queue; then the page again, which shows the new state (without this script the button's
  // form posts to /phe-duyet, which comes back here)
  var approval = document.getElementById("approval-form"), out = document.getElementById("approval-out");
  // the notice of a submission is said once: not again when the page is reloaded later
  if (/[?&]nop=1(&|$)/.test(location.search) && history.replaceState) {
    history.replaceState(null, "", location.pathname + location.search.replace(/[?&]nop=1(?=&|$)/, ""));
  }
  if (approval) {
    approval.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (writing || Object.keys(pending).length || Object.keys(inflight).length) { out.textContent = T.pendingSubmit; return; }
      fetch("/api/approvals", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": CSRF },
        body: JSON.stringify({ form: FORM, orgUnit: OU, period: PE, action: "submit" })
      }).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (j) {
          if (r.ok) { location.assign(approval.elements.back.value + "&nop=1"); return; }
          var why = (j.errors || []).map(function (e) { return e.message; }).join("; ") || j.message || r.status;
          out.textContent = T.notSubmitted + ": " + why;
        });
      }).catch(function () { out.textContent = T.offline; });
    });
  }
})();
