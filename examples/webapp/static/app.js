// Live progress on the campaign page: the server sends the counters as
// Server-Sent Events whenever they change. No other script runs.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var box = document.getElementById("progress");
  if (!box || !window.EventSource) { return; }
  var live = document.getElementById("live");
  var actions = document.getElementById("actions");
  // Show only the buttons the campaign's status allows.
  function showActions(status) {
    if (!actions) { return; }
    actions.querySelectorAll("[data-when]").forEach(function (el) {
      el.hidden = el.dataset.when.split(" ").indexOf(status) < 0;
    });
  }
  showActions(actions ? actions.dataset.status : "");
  var es = new EventSource(box.dataset.events);
  es.addEventListener("progress", function (ev) {
    var c = JSON.parse(ev.data);
    box.querySelectorAll("[data-counter]").forEach(function (el) {
      var v = c[el.dataset.counter];
      if (v === undefined) { return; }
      if (el.tagName === "PROGRESS") { el.value = v; } else { el.textContent = String(v); }
    });
    showActions(c.status);
    var list = document.getElementById("outcomes");
    if (list) {
      list.replaceChildren();
      (c.outcomes || []).forEach(function (o) {
        var li = document.createElement("li");
        li.textContent = o.key + ": " + o.value;
        list.appendChild(li);
      });
    }
  });
  es.addEventListener("finished", function () {
    es.close();
    if (live) { live.textContent = "(finished)"; }
  });
  es.onerror = function () {
    if (live) { live.textContent = "(reconnecting…)"; }
  };
  es.onopen = function () {
    if (live) { live.textContent = "(live)"; }
  };
});
