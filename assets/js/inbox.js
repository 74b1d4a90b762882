// The live inbox: keeps /inbox current over server-sent events (/inbox/events), shows who else is viewing or
// typing, adds keyboard shortcuts and submits `<form data-optimistic>` in place. Loaded on every page (htmx's boost
// swaps pages without running their scripts) and idle unless the page holds #inbox. Everything it does, the page
// also does without it: links and forms with full reloads.
(function () {
  "use strict";

  var source = null; // one stream for the life of the page, kept across boosted navigation
  var presenceTimer = null;
  var presenceFor = null;
  var lastTyping = 0;

  function byId(id) { return document.getElementById(id); }
  function inbox() { return byId("inbox"); }
  function thread() { return byId("thread"); }
  function openConversation() {
    var t = thread();
    return t ? Number(t.getAttribute("data-conversation")) : null;
  }
  function csrf() {
    var input = document.querySelector('input[name="csrf"]');
    return input ? input.value : "";
  }
  function filters() {
    var root = inbox();
    return root ? root.getAttribute("data-filters") || "" : "";
  }
  function withQuery(path, extra) {
    var query = filters();
    if (extra) query += (query ? "&" : "?") + extra;
    return path + query;
  }
  function parse(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }
  function get(url) {
    return fetch(url, { credentials: "same-origin", headers: { "X-Inbox-Live": "1" } });
  }
  function post(url, fields) {
    var body = new URLSearchParams(fields);
    body.set("csrf", csrf());
    return fetch(url, {
      method: "POST", credentials: "same-origin", body: body,
      headers: { "X-Inbox-Live": "1" }, redirect: "manual"
    });
  }
  function activate(element) {
    // New markup needs htmx's boost wired to its links and forms.
    if (window.htmx && element) window.htmx.process(element);
  }

  // ---- Live events -----------------------------------------------------------------------------------------

  function connect() {
    var root = inbox();
    if (!root) {
      if (source) { source.close(); source = null; }
      return;
    }
    if (source) return;
    var after = root.getAttribute("data-events-after") || "0";
    source = new EventSource("/inbox/events?after=" + encodeURIComponent(after));
    ["message", "status", "conversation"].forEach(function (kind) {
      source.addEventListener(kind, onChange);
    });
    source.addEventListener("reset", function () { window.location.reload(); });
    source.addEventListener("presence", onPresence);
  }

  function onChange(event) {
    var data;
    try { data = JSON.parse(event.data); } catch (e) { return; }
    if (!inbox()) return;
    if (data.message_id && data.conversation_id === openConversation()) refreshMessage(data);
    refreshRow(data.conversation_id, event.type === "message");
    refreshCounts();
  }

  function refreshMessage(data) {
    var url = withQuery("/inbox/" + data.conversation_id + "/messages/" + data.message_id);
    get(url).then(function (response) {
      return response.ok ? response.text() : null;
    }).then(function (html) {
      if (!html || data.conversation_id !== openConversation()) return;
      var bubble = parse(html);
      if (!bubble) return;
      var existing = byId(bubble.id);
      if (existing) {
        existing.replaceWith(bubble);
      } else {
        placeBubble(bubble);
        if (bubble.classList.contains("msg--inbound") && document.visibilityState === "visible") {
          post("/inbox/" + data.conversation_id + "/read", {});
        }
      }
      activate(bubble);
    }).catch(function () {});
  }

  // Files a new bubble under its day (a new day group when it starts one), in id order.
  function placeBubble(bubble) {
    var scroll = document.querySelector("#messages .thread__scroll");
    if (!scroll) return;
    var empty = byId("thread-empty");
    if (empty) empty.remove();
    var date = bubble.getAttribute("data-date");
    var days = scroll.querySelectorAll("section.day");
    var day = days.length ? days[days.length - 1] : null;
    if (!day || day.getAttribute("data-date") !== date) {
      var label = (thread() && thread().getAttribute("data-today-label")) || date;
      day = document.createElement("section");
      day.className = "day";
      day.setAttribute("data-date", date);
      day.setAttribute("aria-label", label);
      var heading = document.createElement("h3");
      heading.className = "day__label";
      var span = document.createElement("span");
      span.textContent = label;
      heading.appendChild(span);
      var ol = document.createElement("ol");
      ol.className = "day__messages";
      day.appendChild(heading);
      day.appendChild(ol);
      scroll.appendChild(day);
    }
    var list = day.querySelector(".day__messages");
    var id = Number(bubble.id.replace("message-", ""));
    var before = null;
    for (var i = 0; i < list.children.length; i++) {
      var other = Number(list.children[i].id.replace("message-", ""));
      if (other > id) { before = list.children[i]; break; }
    }
    list.insertBefore(bubble, before);
  }

  // Re-fetches a conversation's row with the list's filters: 204 (no longer matches) or 404 (hidden) drop it.
  function refreshRow(id, moved) {
    var current = openConversation();
    get(withQuery("/inbox/rows/" + id, current ? "current=" + current : "")).then(function (response) {
      if (response.status === 204 || response.status === 404) {
        var gone = byId("conversation-" + id);
        if (gone) gone.remove();
        return null;
      }
      return response.ok ? response.text() : null;
    }).then(function (html) {
      if (!html) return;
      var list = byId("conversations");
      var row = parse(html);
      if (!list || !row) return;
      // Looked up only now: several events for one conversation fetch its row concurrently, and each answer must
      // replace whatever row is on the page when it lands, or the list would show the conversation twice.
      var old = byId("conversation-" + id);
      // An older page of the list shows only rows already on it; new activity goes to the first page.
      var firstPage = !byId("newest");
      if (old && !moved) {
        old.replaceWith(row);
      } else if (firstPage) {
        if (old) old.remove();
        list.insertBefore(row, list.firstElementChild);
      } else if (old) {
        old.replaceWith(row);
      } else {
        return;
      }
      var empty = byId("inbox-empty");
      if (empty) empty.remove();
      activate(row);
    }).catch(function () {});
  }

  function refreshCounts() {
    var tabs = byId("inbox-tabs");
    if (!tabs) return;
    get(withQuery("/inbox/counts")).then(function (response) {
      return response.ok ? response.text() : null;
    }).then(function (html) {
      var fresh = html && parse(html);
      var current = byId("inbox-tabs");
      if (fresh && current) { current.replaceWith(fresh); activate(fresh); }
    }).catch(function () {});
  }

  // ---- Presence --------------------------------------------------------------------------------------------

  function onPresence(event) {
    var data;
    try { data = JSON.parse(event.data); } catch (e) { return; }
    var notice = byId("thread-presence");
    if (!notice || data.conversation_id !== openConversation()) return;
    var text = "";
    if (data.typing && data.typing.length) {
      text = notice.getAttribute("data-typing").replace("{names}", data.typing.join(", "));
    } else if (data.viewing && data.viewing.length) {
      text = notice.getAttribute("data-viewing").replace("{names}", data.viewing.join(", "));
    }
    notice.textContent = text;
    notice.hidden = !text;
  }

  function beat(typing) {
    var id = openConversation();
    if (id) post("/inbox/" + id + "/presence", { typing: typing ? "1" : "0" }).catch(function () {});
  }

  // Other htmx swaps settle too (quick reply suggestions…): only a newly opened conversation restarts the beat.
  function startPresence() {
    var id = openConversation();
    if (id === presenceFor) return;
    presenceFor = id;
    if (presenceTimer) { clearInterval(presenceTimer); presenceTimer = null; }
    if (!id) return;
    beat(false);
    presenceTimer = setInterval(function () {
      if (!openConversation()) { clearInterval(presenceTimer); presenceTimer = null; presenceFor = null; return; }
      beat(false);
    }, 15000);
  }

  document.addEventListener("input", function (event) {
    if (!event.target.closest || !event.target.closest("#composer textarea")) return;
    var now = Date.now();
    if (now - lastTyping < 3000) return; // a heartbeat every 3 s at most while typing
    lastTyping = now;
    beat(true);
  });

  // ---- Keyboard shortcuts ----------------------------------------------------------------------------------

  function typingInField(target) {
    if (!target || !target.closest) return false;
    return !!target.closest("input, textarea, select, [contenteditable=''], [contenteditable='true']");
  }

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#conversations .conv__link"));
  }

  function move(step) {
    var links = rows();
    if (!links.length) return;
    var at = links.indexOf(document.activeElement);
    if (at < 0) at = links.indexOf(document.querySelector("#conversations [aria-current='page']"));
    var next = at < 0 ? (step > 0 ? 0 : links.length - 1) : Math.min(links.length - 1, Math.max(0, at + step));
    links[next].focus();
  }

  function trigger(id) {
    var element = byId(id);
    if (!element) return;
    if (element.tagName === "FORM") {
      if (element.requestSubmit) element.requestSubmit(); else element.submit();
    } else {
      element.click();
    }
  }

  document.addEventListener("keydown", function (event) {
    if (!inbox() || event.ctrlKey || event.metaKey || event.altKey) return;
    var help = byId("shortcuts");
    if (help && help.open) return; // the dialog handles Esc itself
    if (typingInField(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    var handled = true;
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "o": {
        var focused = rows().indexOf(document.activeElement) >= 0 ? document.activeElement : null;
        if (focused) focused.click(); else handled = false;
        break;
      }
      case "/": { var search = byId("q"); if (search) search.focus(); break; }
      case "r": { var reply = document.querySelector("#composer textarea:not([disabled])"); if (reply) reply.focus(); break; }
      case "Escape": { var back = byId("back-to-list"); if (back && openConversation()) back.click(); else handled = false; break; }
      case "e": trigger("action-resolve"); break;
      case "a": trigger("action-assign-me"); break;
      case "u": trigger("action-unread"); break;
      case "?": if (help && help.showModal) help.showModal(); break;
      default: handled = false;
    }
    if (handled) event.preventDefault();
  });

  // ---- Optimistic forms ------------------------------------------------------------------------------------

  function toast(message) {
    var flash = byId("flash");
    if (!flash) return;
    var alert = document.createElement("div");
    alert.className = "alert alert--error toast";
    alert.setAttribute("role", "alert");
    var p = document.createElement("p");
    p.textContent = message;
    alert.appendChild(p);
    flash.appendChild(alert);
    setTimeout(function () { alert.remove(); }, 6000);
  }

  // Capture phase, before htmx's boost sees the submit: the form goes out with fetch and the page changes at once.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("#inbox form[data-optimistic]")) return;
    event.preventDefault();
    event.stopPropagation();
    var selector = form.getAttribute("data-optimistic-target");
    var target = selector ? document.querySelector(selector) : null;
    var text = form.getAttribute("data-optimistic-text");
    var toggle = form.getAttribute("data-optimistic-class");
    var before = target ? { text: target.textContent, className: target.className } : null;
    if (target && text !== null) target.textContent = text;
    if (target && toggle) target.classList.toggle(toggle);
    var restore = function () {
      if (target && before) { target.textContent = before.text; target.className = before.className; }
      toast((inbox() && inbox().getAttribute("data-action-failed")) || "");
    };
    fetch(form.action, {
      method: (form.getAttribute("method") || "post").toUpperCase(),
      credentials: "same-origin",
      body: new URLSearchParams(new FormData(form)),
      headers: { "X-Inbox-Live": "1" },
      redirect: "manual"
    }).then(function (response) {
      // A redirect (the no-script answer) is success; fetch shows it as an opaque redirect.
      var ok = response.type === "opaqueredirect" || (response.status >= 200 && response.status < 400);
      if (!ok) restore();
    }).catch(restore);
  }, true);

  // ---- Start, and again after every boosted navigation -----------------------------------------------------

  function setup() {
    connect();
    startPresence();
  }

  document.addEventListener("htmx:afterSettle", setup);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
