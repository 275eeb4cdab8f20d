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

  function update(tile) {
    const element = document.getElementById("tile-" + tile.slug);
    if (!element) return;
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
