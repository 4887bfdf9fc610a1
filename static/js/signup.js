// The hosted signup pages' one script (pages work without it, reloaded by
// hand): polls the page's status endpoint (`data-status-url`) and reloads
// the page when its state (`data-state`) changes, e.g. to the confirmation
// once the first invoice is paid; and the "Copy" buttons.
"use strict";
(function () {
  var box = document.querySelector("[data-status-url]");
  if (box && box.getAttribute("data-status-url")) {
    var url = box.getAttribute("data-status-url");
    var shown = box.getAttribute("data-state");
    var poll = function () {
      fetch(url, { credentials: "same-origin", cache: "no-store" })
        .then(function (res) {
          return res.ok ? res.json() : null;
        })
        .then(function (body) {
          if (body && body.state && body.state !== shown) {
            window.location.reload();
            return;
          }
          window.setTimeout(poll, 1500);
        })
        .catch(function () {
          window.setTimeout(poll, 5000);
        });
    };
    window.setTimeout(poll, 1500);
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button || !navigator.clipboard) {
      return;
    }
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) {
      return;
    }
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      button.textContent = "Copied";
    });
  });
})();
