// dantoc service worker for the data entry pages (scope /nhap-lieu/): keeps the entry pages,
// their script and the stylesheet so that a page opens again with no network. Pages are taken
// from the network first (always fresh when online) and kept; the script, stylesheet and icon
// from the copy kept by this version, refreshed in the background. Nothing else is touched:
// saves go to the network, through the page's own queue.
"use strict";
var VERSION = "__VERSION__";
var STATIC = "dantoc-nhap-lieu-tep-" + VERSION;
var PAGES = "dantoc-nhap-lieu-trang";
var ASSETS = ["/static/app.css", "/static/entry.js", "/static/icon.svg"];

self.addEventListener("install", function (e) {
  e.waitUntil(caches.open(STATIC).then(function (c) { return c.addAll(ASSETS); }).then(function () {
    return self.skipWaiting();
  }));
});

self.addEventListener("activate", function (e) {
  e.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) {
      return n.indexOf("dantoc-nhap-lieu-tep-") === 0 && n !== STATIC;
    }).map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

function offlinePage() {
  var html = "<!doctype html><meta charset=utf-8><meta name=viewport content=\"width=device-width, initial-scale=1\">" +
    "<link rel=stylesheet href=\"/static/app.css\"><title>Ngoại tuyến</title><main><h1>Ngoại tuyến</h1>" +
    "<p>Trang này chưa được mở khi có mạng trên máy này, nên chưa có bản lưu để dùng khi mất mạng. " +
    "Các giá trị đã nhập ở những trang khác vẫn được giữ và sẽ được gửi khi có mạng trở lại.</p>" +
    "<p lang=en>Offline: this page has not been opened on this device while online, so no copy is kept.</p></main>";
  return new Response(html, { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
}

self.addEventListener("fetch", function (e) {
  var req = e.request;
  if (req.method !== "GET") return;
  var url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (req.mode === "navigate" && url.pathname.indexOf("/nhap-lieu/") === 0) {
    e.respondWith(fetch(req).then(function (r) {
      if (r.ok) {
        var copy = r.clone();
        caches.open(PAGES).then(function (c) { return c.put(req, copy); });
      }
      return r;
    }).catch(function () {
      return caches.open(PAGES).then(function (c) { return c.match(req); }).then(function (hit) {
        if (!hit) return offlinePage();
        // marked, so that one can tell a page opened from this copy
        var h = new Headers(hit.headers);
        h.set("X-Dantoc-Offline-Copy", "1");
        return hit.blob().then(function (b) { return new Response(b, { status: hit.status, headers: h }); });
      });
    }));
    return;
  }
  if (ASSETS.indexOf(url.pathname) >= 0) {
    e.respondWith(caches.open(STATIC).then(function (c) {
      return c.match(req).then(function (hit) {
        var fresh = fetch(req).then(function (r) {
          if (r.ok) c.put(req, r.clone());
          return r;
        });
        if (hit) {
          fresh.catch(function () {});
          return hit;
        }
        return fresh;
      });
    }));
  }
});
