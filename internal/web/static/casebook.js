// casebook web UI: small progressive enhancements. Every page works
// without this script; it adds copying code blocks, the current section
// in the contents, and form conveniences.
(function () {
  "use strict";

  // The text a code block's copy button copies. For console blocks only
  // the commands, without their "$ " prompts, so the copy can be pasted
  // into a shell; other blocks are copied as shown.
  function codeText(block) {
    var code = block.querySelector("pre code") || block.querySelector("pre");
    var text = code ? code.textContent : "";
    var lang = (block.querySelector(".code-lang") || {}).textContent || "";
    if (lang === "console" || lang === "shell-session") {
      var cmds = text.split("\n").filter(function (l) { return /^\s*[$#] /.test(l); })
        .map(function (l) { return l.replace(/^\s*[$#] /, ""); });
      if (cmds.length) { return cmds.join("\n") + "\n"; }
    }
    return text;
  }

  function fallbackCopy(text) {
    var ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.className = "copy-buffer";
    ta.style.position = "fixed";
    ta.style.opacity = "0";
    document.body.appendChild(ta);
    ta.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(ta);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return fallbackCopy(text); });
    }
    return fallbackCopy(text);
  }

  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest && ev.target.closest("button.copy");
    if (!btn) { return; }
    var block = btn.closest(".code");
    if (!block) { return; }
    var label = btn.getAttribute("data-label") || btn.textContent;
    btn.setAttribute("data-label", label);
    copy(codeText(block)).then(function () {
      btn.textContent = btn.getAttribute("data-copied") || "✓";
      btn.classList.remove("failed");
      btn.classList.add("copied");
    }, function () {
      btn.textContent = btn.getAttribute("data-failed") || "✗";
      btn.classList.add("failed");
    }).then(function () {
      clearTimeout(btn._reset);
      btn._reset = setTimeout(function () {
        btn.textContent = label;
        btn.classList.remove("copied", "failed");
      }, 2000);
    });
  });

  // Boxes marked data-narrow-closed (contents, the English summary) are
  // open on wide screens and closed on narrow ones, where they would push
  // the case text off the first screen.
  var narrow = window.matchMedia("(max-width: 899px)");
  var collapsible = document.querySelectorAll("details[data-narrow-closed]");
  function fit() {
    for (var i = 0; i < collapsible.length; i++) { collapsible[i].open = !narrow.matches; }
  }
  if (collapsible.length) {
    fit();
    if (narrow.addEventListener) { narrow.addEventListener("change", fit); }
  }

  // Contents: the section being read is marked. It is the last heading
  // above the top third of the window (the first one before any).
  var toc = document.querySelector(".toc");
  if (toc) {
    var links = {};
    Array.prototype.forEach.call(toc.querySelectorAll("a[href^='#']"), function (a) {
      links[decodeURIComponent(a.getAttribute("href").slice(1))] = a;
    });
    var headings = document.querySelectorAll(".prose h2[id], .prose h3[id]");
    var marked = null, pending = false;
    var mark = function () {
      pending = false;
      var line = window.innerHeight / 3, current = headings[0];
      for (var i = 0; i < headings.length; i++) {
        if (headings[i].getBoundingClientRect().top > line) { break; }
        current = headings[i];
      }
      var a = current && links[current.id];
      if (a === marked) { return; }
      if (marked) { marked.classList.remove("current"); }
      if (a) { a.classList.add("current"); }
      marked = a;
    };
    if (headings.length) {
      window.addEventListener("scroll", function () {
        if (!pending) { pending = true; window.requestAnimationFrame(mark); }
      }, { passive: true });
      mark();
    }
  }

  // Match: Ctrl/Cmd + Enter submits.
  var text = document.getElementById("match-text");
  if (text) {
    text.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); text.form.requestSubmit(); }
    });
  }

  // Upload: say that it is working while the server diagnoses.
  var upload = document.getElementById("upload-form");
  if (upload) {
    var ub = upload.querySelector("button[type=submit]");
    var ubLabel = ub ? ub.textContent : "";
    upload.addEventListener("submit", function () {
      if (ub && ub.getAttribute("data-busy")) { ub.textContent = ub.getAttribute("data-busy"); ub.disabled = true; }
    });
    // Coming back to the page from the result must not leave it disabled.
    window.addEventListener("pageshow", function () {
      if (ub) { ub.textContent = ubLabel; ub.disabled = false; }
    });
  }
})();
