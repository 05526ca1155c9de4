// Errhound UI behaviour. Everything works without this file; it only adds conveniences.
// No inline script anywhere: the CSP allows scripts from this origin only.
(function () {
  "use strict";

  // htmx requests carry the session's CSRF token as a header (forms also carry it as a field).
  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) event.detail.headers["X-CSRF-Token"] = meta.content;
  });

  // "Select all" in the issue list.
  document.addEventListener("change", function (event) {
    var all = event.target.closest("[data-select-all]");
    if (!all) return;
    document.querySelectorAll('#results input[name="id"]').forEach(function (box) {
      box.checked = all.checked;
    });
  });

  // Copy buttons: copy the text of the element named by data-copy.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    });
  });

  // Confirmation for destructive buttons.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.getAttribute("data-confirm"))) event.preventDefault();
  });

  // Close an open menu when clicking elsewhere or pressing Escape.
  function closeMenus(except) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (menu !== except) menu.removeAttribute("open");
    });
  }
  document.addEventListener("click", function (event) {
    closeMenus(event.target.closest("details.menu"));
  });

  // Keyboard: "/" focuses the search, j/k move between issues, Enter or o opens one, Escape
  // closes menus.
  var current = -1;
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tr.issue-row")); }
  function mark(index) {
    var list = rows();
    if (!list.length) return;
    current = Math.max(0, Math.min(index, list.length - 1));
    list.forEach(function (row, i) { row.classList.toggle("focused", i === current); });
    var link = list[current].querySelector("a.issue-title");
    if (link) link.focus();
  }
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { closeMenus(null); return; }
    var target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target.matches("input, textarea, select, [contenteditable]")) return;
    if (event.key === "/") {
      var search = document.querySelector("[data-search]");
      if (search) { event.preventDefault(); search.focus(); search.select(); }
    } else if (event.key === "j") {
      mark(current + 1);
    } else if (event.key === "k") {
      mark(current - 1);
    } else if (event.key === "o" && current >= 0) {
      var link = rows()[current] && rows()[current].querySelector("a.issue-title");
      if (link) link.click();
    }
  });
  // New results: nothing is selected any more, so "select all" starts unchecked again.
  document.addEventListener("htmx:afterSwap", function () {
    current = -1;
    var all = document.querySelector("[data-select-all]");
    if (all) all.checked = false;
  });
})();
