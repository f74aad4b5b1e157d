"use strict";
(function () {
  var form = document.getElementById("filters");
  var rows = Array.prototype.slice.call(document.querySelectorAll("details.res"));
  var app = document.getElementById("f-app"), status = document.getElementById("f-status");
  var kind = document.getElementById("f-kind"), text = document.getElementById("f-text");
  var shown = document.getElementById("shown"), none = document.getElementById("none-shown");
  function apply() {
    var words = text.value.toLowerCase().split(/\s+/).filter(Boolean), n = 0;
    rows.forEach(function (r) {
      var d = r.dataset;
      var ok = (!app.value || d.app === app.value) &&
        (!status.value || d.status === status.value || (status.value === "not-in-sync" && d.status !== "in-sync")) &&
        (!kind.value || d.kind === kind.value) &&
        words.every(function (w) { return d.search.indexOf(w) !== -1; });
      r.hidden = !ok;
      if (ok) { n += 1; }
    });
    shown.textContent = n === rows.length ? String(n) : n + " of " + rows.length;
    none.hidden = n !== 0;
  }
  form.hidden = false;
  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  form.addEventListener("submit", function (e) { e.preventDefault(); });
  form.addEventListener("reset", function () { setTimeout(apply, 0); });
  Array.prototype.forEach.call(document.querySelectorAll("tr.app-row"), function (tr) {
    tr.addEventListener("click", function () {
      app.value = app.value === tr.dataset.app ? "" : tr.dataset.app;
      apply();
      document.getElementById("resources").scrollIntoView();
    });
  });
  window.addEventListener("beforeprint", function () {
    rows.forEach(function (r) { r.dataset.wasOpen = r.open ? "1" : ""; r.open = true; });
  });
  window.addEventListener("afterprint", function () {
    rows.forEach(function (r) { r.open = r.dataset.wasOpen === "1"; });
  });
}());
