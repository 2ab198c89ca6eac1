/* Console behaviour that the CSP allows (scripts from 'self' only, no inline code). */
(function () {
  "use strict";
  document.querySelectorAll("[data-open-dialog]").forEach(function (button) {
    button.addEventListener("click", function () {
      var dialog = document.getElementById(button.getAttribute("data-open-dialog"));
      if (dialog && dialog.showModal) { dialog.showModal(); }
    });
  });
  document.querySelectorAll("[data-close-dialog]").forEach(function (button) {
    button.addEventListener("click", function () {
      var dialog = button.closest("dialog");
      if (dialog) { dialog.close(); }
    });
  });
  // A reason that requires a note makes the note required.
  var reason = document.getElementById("reason_code");
  var note = document.getElementById("note");
  if (reason && note) {
    reason.addEventListener("change", function () {
      var option = reason.options[reason.selectedIndex];
      note.required = option && option.getAttribute("data-requires-note") === "1";
    });
  }
  // Batch progress: poll until done, then show the result page.
  var status = document.getElementById("batch-status");
  if (status && status.getAttribute("data-status") !== "done") {
    var poll = function () {
      fetch(status.getAttribute("data-status-url"), {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (s) {
          document.getElementById("batch-processed").textContent = s.processed;
          document.getElementById("batch-state").textContent = s.status_label;
          document.getElementById("batch-bar").value = s.processed;
          if (s.status === "done") { window.location.reload(); } else { setTimeout(poll, 1000); }
        })
        .catch(function () { setTimeout(poll, 3000); });
    };
    setTimeout(poll, 1000);
  }
})();
