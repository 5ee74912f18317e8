// dantoc pivot pages: copy a link to the table, save it as a report table. Everything else
// (sorting, paging, downloads) is plain links and works without this script.
(function () {
  "use strict";
  document.querySelectorAll("button[data-copy]").forEach(function (b) {
    if (!navigator.clipboard) return;
    b.hidden = false;
    b.addEventListener("click", function () {
      navigator.clipboard.writeText(location.origin + b.dataset.copy).then(function () {
        b.textContent = "Đã sao chép";
      });
    });
  });
  var form = document.getElementById("save-table");
  if (!form) return;
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var out = form.querySelector("output");
    var body = {
      name: form.elements.name.value,
      description: form.elements.description.value,
      query: form.dataset.query
    };
    fetch("/api/reportTables", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": form.dataset.csrf },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (j) {
        if (r.ok) {
          out.innerHTML = "";
          var a = document.createElement("a");
          a.href = "/bao-cao/" + j.id;
          a.textContent = "Đã lưu: " + j.name;
          out.appendChild(a);
        } else {
          out.textContent = "Không lưu được: " + (j.message || r.status);
        }
      });
    }).catch(function () { out.textContent = "Không lưu được: mất kết nối"; });
  });
})();
