// Times in the viewer's zone, and live progress on the campaign page: the
// server sends the counters as Server-Sent Events whenever they change.
// No other script runs.
"use strict";

// localize shows a <time datetime> (an instant in UTC) in the viewer's
// zone, labelled with the zone's abbreviation, with the UTC time as its
// tooltip.
function localize(el) {
  var d = new Date(el.getAttribute("datetime"));
  if (isNaN(d.getTime())) { return; }
  var opts = { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" };
  if (el.dataset.local === "time") { opts.second = "2-digit"; }
  if (el.dataset.local === "datetime") { opts.year = "numeric"; }
  el.title = d.toUTCString();
  el.textContent = d.toLocaleString(undefined, opts);
}

// timeEl returns a <time> for an RFC 3339 instant, localized.
function timeEl(iso, kind) {
  var el = document.createElement("time");
  el.setAttribute("datetime", iso);
  el.dataset.local = kind;
  el.textContent = iso;
  localize(el);
  return el;
}

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("time[data-local]").forEach(localize);

  // The dev banner's simulated time moves on at real speed, and jumps
  // when the live progress says it was skipped.
  var sim = document.querySelector("#simclock time");
  var simBase = 0, simAt = 0;
  function setSim(iso) {
    simBase = new Date(iso).getTime();
    simAt = Date.now();
    sim.setAttribute("datetime", new Date(simBase).toISOString());
    localize(sim);
  }
  if (sim) {
    setSim(sim.getAttribute("datetime"));
    setInterval(function () { setSim(new Date(simBase + Date.now() - simAt).toISOString()); }, 15000);
  }

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
  // The notice of recipients waiting for their sending window.
  function showSchedule(s, skip) {
    var w = document.getElementById("waiting");
    if (!w || !s) { return; }
    w.hidden = !s.waiting;
    var set = function (name, fn) { var el = w.querySelector("[data-wait=" + name + "]"); if (el) { fn(el); } };
    set("count", function (el) { el.textContent = String(s.waiting); });
    set("in", function (el) { el.textContent = s.next_in || ""; });
    set("next", function (el) { el.replaceChildren(s.waiting ? timeEl(s.next, "datetime") : ""); });
    var body = w.querySelector("#waiting-zones tbody");
    if (body) {
      body.replaceChildren();
      (s.zones || []).forEach(function (z) {
        var tr = document.createElement("tr");
        [z.zone, String(z.count), z.local].forEach(function (v) {
          var td = document.createElement("td");
          td.textContent = v;
          tr.appendChild(td);
        });
        var td = document.createElement("td");
        td.appendChild(timeEl(z.next, "datetime"));
        tr.appendChild(td);
        body.appendChild(tr);
      });
    }
    var form = document.getElementById("skip-form");
    if (form && skip) {
      form.hidden = !skip.show;
      set("skip-in", function (el) { el.textContent = skip.in || ""; });
    }
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
    document.querySelectorAll("[data-show-if]").forEach(function (el) {
      el.hidden = !(c[el.dataset.showIf] > 0);
    });
    showActions(c.status);
    showSchedule(c.schedule, c.skip);
    if (sim && c.sim_now && new Date(c.sim_now).getTime() > simBase + Date.now() - simAt + 60000) { setSim(c.sim_now); }
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
