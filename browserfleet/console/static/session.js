// An ended session's page: the rrweb replay (rrweb-player) and the per-page videos.
(function () {
  "use strict";
  var replay = document.getElementById("replay");
  if (replay && window.rrwebPlayer) {
    fetch(replay.getAttribute("data-events"), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (records) {
        // the recording's records carry rrweb events; one replay per page, the first page here
        var events = records.map(function (r) { return { type: r.type, data: r.data, timestamp: r.timestamp }; });
        replay.textContent = "";
        if (events.length < 2) { replay.textContent = "Nothing was recorded."; return; }
        var Player = window.rrwebPlayer.default || window.rrwebPlayer;
        window.__replay = new Player({ target: replay, props: { events: events, autoPlay: true, width: Math.min(960, replay.clientWidth - 16), height: 480 } });
        replay.setAttribute("data-ready", "1");
      })
      .catch(function (e) { replay.textContent = "The recording could not be loaded: " + e; });
  }

  var videos = document.getElementById("videos");
  if (!videos) return;
  var url = videos.getAttribute("data-videos");
  var show = function (list) {
    videos.textContent = "";
    if (!list.length) { videos.textContent = "No page was recorded."; return true; }
    var done = true;
    list.forEach(function (v) {
      var box = document.createElement("div");
      var title = document.createElement("h4");
      title.textContent = "Page " + v.page + " · " + v.status;
      box.appendChild(title);
      if (v.status === "COMPLETED") {
        var video = document.createElement("video");
        video.controls = true; video.muted = true; video.src = v.url; video.className = "page-video";
        box.appendChild(video);
      } else if (v.status === "PENDING") { done = false; }
      videos.appendChild(box);
    });
    return done;
  };
  var poll = function () {
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (list) {
      if (!show(list)) setTimeout(poll, 1500);
    });
  };
  fetch(url, { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": videos.getAttribute("data-csrf") } })
    .then(function (r) { return r.json(); })
    .then(function (list) { if (!show(list)) setTimeout(poll, 1500); })
    .catch(function (e) { videos.textContent = "The videos could not be asked for: " + e; });
})();
