// Live updates: keep each tile in step with the board's event stream.
// Text goes in with textContent only, so a service name can never become markup.
(function () {
  "use strict";
  const script = document.currentScript;
  const status = document.getElementById("stream-state");
  const source = new EventSource(script.dataset.eventsUrl);

  function describe(tile) {
    if (tile.ok === null) return "not checked yet";
    if (tile.ok) return "HTTP " + tile.status_code + " in " + Math.round(tile.latency_ms) + " ms";
    return tile.error_label + (tile.status_code ? " (HTTP " + tile.status_code + ")" : "");
  }

  // A service added after this page was rendered has no tile: render the page
  // again, which lists it. Not more than once in 10 seconds, in case the page
  // comes back from a cache without it.
  function reloadForNewService() {
    const last = Number(sessionStorage.getItem("board-reloaded-at") || 0);
    if (Date.now() - last < 10000) return;
    sessionStorage.setItem("board-reloaded-at", String(Date.now()));
    window.location.reload();
  }

  function update(tile) {
    const element = document.getElementById("tile-" + tile.slug);
    if (!element) {
      reloadForNewService();
      return;
    }
    element.classList.remove("up", "down", "unknown");
    element.classList.add(tile.state);
    element.dataset.state = tile.state;
    element.querySelector(".state").textContent = tile.state;
    element.querySelector(".detail").textContent = describe(tile);
    let badge = element.querySelector(".incident");
    if (tile.incident_open && !badge) {
      badge = document.createElement("span");
      badge.className = "incident";
      badge.textContent = "incident open";
      element.appendChild(badge);
    } else if (!tile.incident_open && badge) {
      badge.remove();
    }
  }

  source.onopen = function () { status.textContent = "Live"; };
  source.onerror = function () { status.textContent = "Reconnecting…"; };
  source.addEventListener("check", function (event) { update(JSON.parse(event.data)); });
  source.addEventListener("snapshot", function (event) {
    status.textContent = "Updating every few seconds";
    JSON.parse(event.data).tiles.forEach(update);
  });
  // The server could not replay what this page missed: start again from fresh.
  source.addEventListener("resync", function () { window.location.reload(); });
})();
