// The console's small shared behaviours: copy buttons, and pages that follow a running job.
(function () {
  "use strict";
  // <button data-copy="#id">: copies the text of #id
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.querySelector(button.getAttribute("data-copy"));
      if (!source) return;
      navigator.clipboard.writeText(source.textContent).then(function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy"; }, 1500);
      });
    });
  });
  // [data-reload=SECONDS]: the page reloads itself while what it shows is still running
  var reload = document.querySelector("[data-reload]");
  if (reload) {
    setTimeout(function () { window.location.reload(); }, 1000 * Number(reload.getAttribute("data-reload")));
  }
  // [data-poll=URL]: polls a JSON {state} and reloads the page once it changed
  var poll = document.querySelector("[data-poll]");
  if (poll) {
    var url = poll.getAttribute("data-poll"), seen = poll.getAttribute("data-state");
    var tick = function () {
      fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (body) {
        if (body.state !== seen) { window.location.reload(); } else { setTimeout(tick, 1000); }
      }).catch(function () { setTimeout(tick, 2000); });
    };
    setTimeout(tick, 1000);
  }
})();
