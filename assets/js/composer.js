// The composer's helpers (progressive: every action works without this file). Typing `/sho` in the reply box
// shows the matching quick replies, filled by the server for this conversation; arrows move, Enter or Tab
// inserts, Escape closes. The emoji picker inserts at the caret. Listeners sit on the document, so a page swapped
// in by htmx needs nothing more, and loading the file twice changes nothing.
(function () {
  "use strict";
  if (window.conversureComposer) return;
  window.conversureComposer = true;

  var timer = null;
  var active = -1;

  function box() { return document.getElementById("qr-suggestions"); }

  // The `/word` right before the caret, or null.
  function slashWord(area) {
    var before = area.value.slice(0, area.selectionStart);
    var match = /(^|\s)\/([a-z0-9_-]{0,32})$/.exec(before);
    return match ? { start: before.length - match[2].length - 1, prefix: match[2] } : null;
  }

  function options() { var b = box(); return b ? Array.prototype.slice.call(b.querySelectorAll("[role=option]")) : []; }

  function close() {
    var b = box();
    if (b) { b.hidden = true; b.innerHTML = ""; }
    active = -1;
    var area = document.getElementById("text");
    if (area) area.setAttribute("aria-expanded", "false");
  }

  function highlight(index) {
    var items = options();
    if (!items.length) return;
    active = (index + items.length) % items.length;
    items.forEach(function (item, i) { item.setAttribute("aria-selected", i === active ? "true" : "false"); });
    var area = document.getElementById("text");
    if (area) area.setAttribute("aria-activedescendant", items[active].id);
  }

  function insertAt(area, start, end, text) {
    area.value = area.value.slice(0, start) + text + area.value.slice(end);
    var caret = start + text.length;
    area.setSelectionRange(caret, caret);
    area.focus();
    area.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function choose(item) {
    var area = document.getElementById("text");
    var word = area && slashWord(area);
    if (!area || !word) { close(); return; }
    insertAt(area, word.start, area.selectionStart, item.getAttribute("data-text"));
    close();
  }

  function suggest(area) {
    var form = document.getElementById("reply-form");
    var word = slashWord(area);
    if (!form || !word) { close(); return; }
    var url = form.getAttribute("data-suggest") + "?q=" + encodeURIComponent(word.prefix);
    fetch(url, { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) {
        var b = box();
        if (!b || !slashWord(area)) return;
        b.innerHTML = html;
        var any = options().length > 0;
        b.hidden = !any;
        area.setAttribute("aria-expanded", any ? "true" : "false");
        if (any) highlight(0);
      })
      .catch(close);
  }

  document.addEventListener("input", function (e) {
    if (!e.target || e.target.id !== "text") return;
    clearTimeout(timer);
    var area = e.target;
    timer = setTimeout(function () { suggest(area); }, 120);
  });

  document.addEventListener("keydown", function (e) {
    if (!e.target || e.target.id !== "text") return;
    var b = box();
    if (!b || b.hidden || !options().length) return;
    if (e.key === "ArrowDown") { e.preventDefault(); highlight(active + 1); }
    else if (e.key === "ArrowUp") { e.preventDefault(); highlight(active - 1); }
    else if (e.key === "Enter" || e.key === "Tab") { e.preventDefault(); choose(options()[Math.max(active, 0)]); }
    else if (e.key === "Escape") { e.preventDefault(); close(); }
  });

  document.addEventListener("click", function (e) {
    var option = e.target.closest && e.target.closest("#qr-suggestions [role=option]");
    if (option) { e.preventDefault(); choose(option); return; }
    var emoji = e.target.closest && e.target.closest("[data-emoji]");
    if (emoji) {
      e.preventDefault();
      var area = document.getElementById("text");
      if (!area || area.disabled) return;
      var start = area.selectionStart, end = area.selectionEnd;
      insertAt(area, start, end, emoji.getAttribute("data-emoji"));
      return;
    }
    if (!(e.target.closest && e.target.closest("#qr-suggestions"))) close();
  });
})();
