(function () {
  "use strict";
  var live = document.getElementById("live");
  var badge = document.getElementById("live-state");
  if (!live || !window.EventSource || !window.fetch) { return; }
  var busy = false, again = false, swaps = 0;
  function say(text, tone) {
    if (badge) { badge.textContent = text; badge.className = "live " + tone; }
  }
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(location.pathname + location.search,
          {headers: {"X-Dockwright-Fragment": "1"}, cache: "no-store"})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html !== null) {
          live.innerHTML = html;
          swaps += 1;
          document.body.setAttribute("data-swaps", String(swaps));
        }
      })
      .catch(function () { again = true; })
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }
  function mark(d) {
    var rows = live.querySelectorAll("tr[data-name]");
    for (var i = 0; i < rows.length; i += 1) {
      if (rows[i].getAttribute("data-name") !== d.name) { continue; }
      var state = rows[i].querySelector(".state");
      if (state) { state.textContent = d.label; state.className = "state pill " + d.tone; }
      var why = rows[i].querySelector(".reason");
      if (why) { why.textContent = d.action + " under way: " + d.reason; }
    }
  }
  var events = new EventSource("/events");
  events.onopen = function () { say("live", "on"); };
  events.onerror = function () { say("reconnecting", "off"); };
  events.addEventListener("pass", refresh);
  events.addEventListener("change", refresh);
  events.addEventListener("action", function (e) { mark(JSON.parse(e.data)); });
})();
