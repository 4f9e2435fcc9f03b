// The run page, live: while a run is being checked or sent, fetch its JSON twin every
// half second, move the progress bars and the numbers (the run's total in #progress; each
// installation's in the element marked data-installation="i": its bar when it has one,
// each value in the one marked data-field="name", as the server words it), draw rows/s
// over time. When the run reaches another status the page reloads and the server renders
// what comes next. On every page, a table too wide for the screen can be scrolled from the
// keyboard.
// No inline script anywhere (the CSP forbids it): this file is all the page runs.
"use strict";

(function () {
  var POLL_MS = 500;
  var LIVE = { checking: true, sending: true };

  function number(n) {
    return Number(n || 0).toLocaleString("en-US");
  }

  function countsText(counts) {
    return Object.keys(counts || {}).map(function (status) {
      return status + " " + number(counts[status]);
    }).join(", ");
  }

  function setText(id, text) {
    var el = document.getElementById(id);
    if (el) { el.textContent = text; }
  }

  function drawChart(canvas, history) {
    var ctx = canvas.getContext && canvas.getContext("2d");
    if (!ctx) { return; }
    var w = canvas.width, h = canvas.height, pad = 4;
    ctx.clearRect(0, 0, w, h);
    if (!history || history.length < 2) { return; }
    var tMax = history[history.length - 1][0] || 1;
    var rMax = 1;
    history.forEach(function (p) { rMax = Math.max(rMax, p[1]); });
    ctx.strokeStyle = "#c8ccd2";
    ctx.beginPath();
    ctx.moveTo(pad, h - pad);
    ctx.lineTo(w - pad, h - pad);
    ctx.stroke();
    ctx.strokeStyle = "#0969da";
    ctx.lineWidth = 2;
    ctx.beginPath();
    history.forEach(function (p, i) {
      var x = pad + (w - 2 * pad) * (p[0] / tMax);
      var y = h - pad - (h - 2 * pad) * (p[1] / rMax);
      if (i === 0) { ctx.moveTo(x, y); } else { ctx.lineTo(x, y); }
    });
    ctx.stroke();
    ctx.fillStyle = "#57606a";
    ctx.font = "12px sans-serif";
    ctx.fillText(number(Math.round(rMax)) + " rows/s", pad + 2, 14);
  }

  function showBar(bar, done, toSend) {
    if (!bar) { return; }
    bar.setAttribute("aria-valuemax", String(toSend));
    bar.setAttribute("aria-valuenow", String(done));
    bar.setAttribute("aria-valuetext", number(done) + " of " + number(toSend) + " rows");
    var visual = bar.querySelector("progress");
    if (visual) {
      visual.max = toSend || 1;
      visual.value = done;
    }
  }

  function showInstallation(box, send) {
    showBar(box.querySelector('[role="progressbar"]'), send.done, send.to_send);
    box.querySelectorAll("[data-field]").forEach(function (el) {
      var field = el.dataset.field;
      var value = send[field];
      if (field === "counts") {
        el.textContent = countsText(value);
      } else if (field === "retries" || field === "done" || field === "to_send") {
        el.textContent = number(value);
      } else if (value === null || value === undefined) {
        el.textContent = el.dataset.unknown || (field === "concurrency" ? "–" : "");
      } else {
        el.textContent = String(value);
      }
    });
    box.querySelectorAll("[data-shows]").forEach(function (el) {
      el.hidden = !send[el.dataset.shows];
    });
    var canvas = box.querySelector("canvas.rate-chart");
    if (canvas) { drawChart(canvas, send.history); }
  }

  function showLive(live) {
    if (!live) { return; }
    showBar(document.getElementById("progress"), live.done, live.to_send);
    setText("done", number(live.done));
    setText("to-send", number(live.to_send));
    (live.installations || []).forEach(function (send, i) {
      var box = document.querySelector('[data-installation="' + i + '"]');
      if (box) { showInstallation(box, send); }
    });
  }

  function poll(run, status) {
    fetch(run.dataset.json, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        if (data.run.status !== status) {
          window.location.reload();
          return;
        }
        showLive(data.live);
        window.setTimeout(function () { poll(run, status); }, POLL_MS);
      })
      .catch(function () {
        // The server may be restarting: keep trying, a little less often.
        window.setTimeout(function () { poll(run, status); }, POLL_MS * 4);
      });
  }

  // A table that scrolls sideways in its wrapper needs the keyboard to reach the wrapper:
  // such a wrapper is a focusable region named by its table's caption. One that fits the
  // screen stays out of the tab order.
  function scrollersReachable() {
    document.querySelectorAll(".table-wrap").forEach(function (wrap) {
      if (wrap.scrollWidth > wrap.clientWidth) {
        var caption = wrap.querySelector("caption");
        wrap.tabIndex = 0;
        wrap.setAttribute("role", "region");
        wrap.setAttribute("aria-label", caption ? caption.textContent.trim() : "Table");
      } else {
        wrap.removeAttribute("tabindex");
        wrap.removeAttribute("role");
        wrap.removeAttribute("aria-label");
      }
    });
  }

  window.addEventListener("resize", scrollersReachable);

  document.addEventListener("DOMContentLoaded", function () {
    scrollersReachable();
    var run = document.getElementById("run");
    if (!run) { return; }
    var status = run.dataset.status;
    if (LIVE[status]) { poll(run, status); }
  });
})();
