// dantoc forms page: upload a filled form file (xlsx or csv) as the request body and show the
// import summary, each conflict with its sheet and cell. Downloads are plain links.
(function () {
  "use strict";
  function line(text, cls) {
    var li = document.createElement("li");
    li.textContent = text;
    if (cls) li.className = cls;
    return li;
  }
  function show(out, status, j) {
    out.innerHTML = "";
    var p = document.createElement("p");
    if (status === 200) {
      var n = j.importCount || {};
      p.className = "ok";
      p.textContent = (j.dryRun ? "Kiểm tra xong, chưa ghi gì: " : "Đã nhập: ") +
        (n.imported || 0) + " mới, " + (n.updated || 0) + " sửa, " +
        (n.deleted || 0) + " xoá, " + (n.ignored || 0) + " không đổi.";
      out.appendChild(p);
      return;
    }
    p.className = "error";
    p.textContent = j.description || j.message || ("Lỗi " + status);
    out.appendChild(p);
    var list = j.conflicts || j.errors || [];
    if (!list.length) return;
    var ul = document.createElement("ul");
    list.forEach(function (c) {
      var where = c.cell || (c.row ? "dòng " + c.row + (c.column ? ", cột " + c.column : "") : "");
      ul.appendChild(line((where ? where + " " : "") + "(" + c.field + "): " + c.message +
        (c.value !== undefined ? " [" + c.value + "]" : "")));
    });
    out.appendChild(ul);
  }
  document.querySelectorAll("form.upload").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var out = form.querySelector("output");
      var file = form.elements.file.files[0];
      if (!file) return;
      var kind = /\.csv$/i.test(file.name) ? "csv" : "xlsx";
      var url = "/api/forms/" + encodeURIComponent(form.dataset.form) + "/import." + kind +
        "?dryRun=" + (form.elements.dry.checked ? "true" : "false");
      out.textContent = "Đang gửi…";
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": kind === "csv" ? "text/csv" : "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
          "X-CSRF-Token": form.dataset.csrf
        },
        body: file
      }).then(function (r) {
        return r.text().then(function (t) {
          var j;
          try { j = JSON.parse(t); } catch (x) { j = { message: "Lỗi " + r.status + (t ? ": " + t.slice(0, 200) : "") }; }
          show(out, r.status, j);
        });
      }, function () {
        show(out, 0, { message: "Không gửi được: mất kết nối" });
      });
    });
  });
})();
