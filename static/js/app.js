/* Progressive enhancement for the dashboard: keyboard shortcuts, the claim heartbeat and the live
   flag preview. Every action here also exists as a plain form, so the pages work without it.
   Loaded as a static file (the CSP allows scripts from 'self' only). */
(function () {
  "use strict";

  var announcer = null;
  function announce(text) {
    if (!announcer) return;
    announcer.textContent = "";
    // A fresh text node makes screen readers speak a repeated message again.
    window.setTimeout(function () { announcer.textContent = text; }, 30);
  }

  function typingIn(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  /* --- Flags: j / k move through them, o opens the override of the selected blocker ------------ */
  var flagItems = [];
  var current = -1;

  function selectFlag(index) {
    if (!flagItems.length) { announce("This version has no flags."); return; }
    current = Math.max(0, Math.min(index, flagItems.length - 1));
    flagItems.forEach(function (item) { item.classList.remove("current"); });
    document.querySelectorAll("mark.flagged.current").forEach(function (m) { m.classList.remove("current"); });
    var item = flagItems[current];
    item.classList.add("current");
    item.scrollIntoView({ block: "nearest" });
    var mark = document.getElementById(item.dataset.segment);
    if (mark) {
      mark.classList.add("current");
      mark.focus();
    } else {
      item.setAttribute("tabindex", "-1");
      item.focus();
    }
    announce("Flag " + (current + 1) + " of " + flagItems.length + ".");
  }

  function syncFromMark(mark) {
    var starts = (mark.dataset.starts || "").split(" ");
    for (var i = 0; i < flagItems.length; i++) {
      if (starts.indexOf(flagItems[i].dataset.flag) !== -1) {
        flagItems.forEach(function (item) { item.classList.remove("current"); });
        flagItems[i].classList.add("current");
        current = i;
        return;
      }
    }
  }

  function openOverride() {
    if (current < 0) { announce("Choose a flag first with j or k."); return; }
    var field = flagItems[current].querySelector("form.override textarea");
    if (!field) { announce("This flag needs no override from you."); return; }
    field.focus();
    announce("Write why this blocker can be overridden, then press the Override blocker button.");
  }

  /* --- Decisions: a / c / r choose, the reviewer confirms --------------------------------------- */
  var decisionNames = { approve: "Approve", request_changes: "Request changes", reject: "Reject" };

  function choose(kind) {
    var form = document.getElementById("decision-form");
    if (!form) { announce("You cannot decide on this draft."); return; }
    var radio = form.querySelector('input[name="decision"][value="' + kind + '"]');
    if (!radio) { announce(decisionNames[kind] + " is not possible in this draft's status."); return; }
    radio.checked = true;
    if (kind === "approve") {
      var button = document.getElementById("decide-button");
      button.focus();
      announce("Approve chosen. Press Enter to record it.");
    } else {
      var comment = form.querySelector("textarea");
      comment.focus();
      announce(decisionNames[kind] + " chosen. Write your comment for the author, then record it.");
    }
  }

  function nextDraft() {
    var form = document.querySelector('form[data-shortcut="n"]');
    if (!form) { announce("Only reviewers work the queue."); return; }
    form.requestSubmit ? form.requestSubmit() : form.submit();
  }

  function showHelp() {
    var dialog = document.getElementById("shortcuts");
    if (dialog && !dialog.open) dialog.showModal();
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typingIn(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    var page = document.body.dataset.page;
    var handlers = {
      "?": showHelp,
      n: nextDraft,
    };
    if (page === "draft") {
      handlers.j = function () { selectFlag(current + 1); };
      handlers.k = function () { selectFlag(current < 0 ? 0 : current - 1); };
      handlers.o = openOverride;
      handlers.a = function () { choose("approve"); };
      handlers.c = function () { choose("request_changes"); };
      handlers.r = function () { choose("reject"); };
    }
    var handler = handlers[event.key];
    if (handler) {
      event.preventDefault();
      handler();
    }
  }

  /* --- The claim heartbeat: renew while the reviewer is active on the page --------------------- */
  var HEARTBEAT_MS = 60 * 1000;

  function startHeartbeat(form) {
    var lastActivity = Date.now();
    var lastBeat = Date.now();
    ["keydown", "pointerdown", "scroll", "input", "focusin"].forEach(function (type) {
      document.addEventListener(type, function () { lastActivity = Date.now(); }, { passive: true });
    });
    function beat() {
      if (document.hidden || lastActivity < lastBeat) return; // idle: let the claim run out
      lastBeat = Date.now();
      fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      }).then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      }).then(function (result) {
        var until = document.getElementById("lease-until");
        if (result.ok && until) {
          until.textContent = result.data.clock;
          until.setAttribute("datetime", result.data.until);
        } else if (!result.ok) {
          announce(result.data.message || "Your claim on this draft has ended.");
          window.clearInterval(timer);
        }
      }).catch(function () { /* offline for a moment: the next beat tries again */ });
    }
    var timer = window.setInterval(beat, HEARTBEAT_MS);
  }

  /* --- Live preview of flags while writing ------------------------------------------------------ */
  function startPreview(form) {
    var body = form.querySelector('textarea[name="body"]');
    var region = form.querySelector("[data-preview-region]");
    if (!body || !region) return;
    var timer = null;
    var sent = null;
    function check() {
      var text = body.value;
      if (text === sent) return;
      sent = text;
      if (!text.trim()) { region.innerHTML = ""; return; }
      var data = new FormData();
      data.append("csrfmiddlewaretoken", form.querySelector('input[name="csrfmiddlewaretoken"]').value);
      data.append("body", text);
      fetch(form.dataset.preview, { method: "POST", body: data, credentials: "same-origin" })
        .then(function (response) { return response.text(); })
        .then(function (html) {
          if (sent !== text) return; // a newer check is on its way
          region.innerHTML = html; // server-rendered and escaped
        })
        .catch(function () { /* the Check button still works */ });
    }
    body.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(check, 500);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    announcer = document.getElementById("announcer");
    flagItems = Array.prototype.slice.call(document.querySelectorAll("#flag-list > li.flag"));
    document.addEventListener("keydown", onKey);
    document.querySelectorAll("mark.flagged[data-starts]").forEach(function (mark) {
      mark.addEventListener("focus", function () { syncFromMark(mark); });
    });
    var help = document.querySelector('[data-action="help"]');
    if (help) {
      help.hidden = false;
      help.addEventListener("click", showHelp);
    }
    var heartbeat = document.querySelector("form[data-heartbeat]");
    if (heartbeat) startHeartbeat(heartbeat);
    document.querySelectorAll("form[data-preview]").forEach(startPreview);
  });
})();
