/* Switchyard UI helpers: small, dependency-free, loaded with `defer`.
 *
 * The Content-Security-Policy allows only scripts from /static (no inline
 * script, no hx-on, no eval), so page behaviour is declared with data
 * attributes and wired up here:
 *
 *   /  (outside a text field)   focuses the element with id="search"
 *   <form data-confirm="…">     asks window.confirm before submitting; a submit
 *                               button may carry its own data-confirm instead
 *   <a|button data-confirm="…"> (not a form submit) asks before the click acts;
 *                               htmx elements may also use hx-confirm
 *   [data-autofocus]            receives focus on load and after htmx swaps
 *   <button data-copy="#id">    copies the text (or value) of #id
 *   <form data-autosubmit>      submits when a select/checkbox/radio changes
 *   <button data-dismiss>       removes its closest .flash (or [data-dismissable])
 *   <form data-clean-query>     (GET) sends only the fields that hold a value, so the
 *                               address (shared or pushed by htmx) carries no empty ones
 *   <details data-fold-narrow>  starts folded on a phone-sized screen, open on a wide one
 *   <input data-select-all="F"> checks every checkbox of form F (name="flags") on the page;
 *                               [data-selected-count="F"] says how many are checked
 *   <select data-bulk-action>   sets its form's data-mode ("switch" for on/off, else "value"),
 *                               so the bulk bar shows the field the action takes
 *   /  (outside a text field)   opens the command palette (#palette, see below)
 */
(function () {
  "use strict";

  function isTyping(el) {
    if (!el || el === document.body) return false;
    if (el.isContentEditable) return true;
    var tag = el.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    if (tag !== "INPUT") return false;
    var type = (el.getAttribute("type") || "text").toLowerCase();
    return ["button", "submit", "reset", "checkbox", "radio", "file", "image", "range", "color"]
      .indexOf(type) === -1;
  }

  // Empty fields of a clean-query form are left out: of a plain GET submit (disabled for the
  // moment of sending) and of htmx's request parameters.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-clean-query")) return;
    if (form.hasAttribute("hx-get")) return;
    var emptied = [];
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name && !el.disabled && el.value === "" && el.type !== "submit") {
        el.disabled = true;
        emptied.push(el);
      }
    });
    window.setTimeout(function () { emptied.forEach(function (el) { el.disabled = false; }); }, 0);
  });
  document.addEventListener("htmx:configRequest", function (e) {
    var elt = e.detail.elt;
    var form = elt && elt.closest ? elt.closest("form[data-clean-query]") : null;
    if (!form || (e.detail.verb || "").toLowerCase() !== "get") return;
    var params = e.detail.parameters;
    var names = [];
    if (params && typeof params.forEach === "function") {
      params.forEach(function (value, name) { if (value === "") names.push(name); });
      names.forEach(function (name) { params.delete(name); });
    } else if (params) {
      Object.keys(params).forEach(function (name) { if (params[name] === "") delete params[name]; });
    }
  });

  // Folded filters on a phone; open (and their summary hidden by the CSS) on a wide screen.
  var narrow = window.matchMedia ? window.matchMedia("(max-width: 720px)") : null;
  function fold(root) {
    if (!narrow) return;
    (root || document).querySelectorAll("details[data-fold-narrow]").forEach(function (d) {
      if (narrow.matches) d.removeAttribute("open"); else d.setAttribute("open", "");
    });
  }
  if (narrow && typeof narrow.addEventListener === "function") {
    narrow.addEventListener("change", function () { fold(document); });
  }

  // A table wider than its box scrolls sideways inside it: keyboard users can reach and scroll
  // that box, and screen readers hear what it is.
  function markScrollers(root) {
    (root && root.querySelectorAll ? root : document).querySelectorAll(".table-wrap").forEach(function (w) {
      if (w.scrollWidth > w.clientWidth + 1) {
        w.setAttribute("tabindex", "0");
        w.setAttribute("role", "region");
        if (!w.hasAttribute("aria-label")) w.setAttribute("aria-label", "Table, scrolls sideways");
      } else if (w.getAttribute("aria-label") === "Table, scrolls sideways") {
        w.removeAttribute("tabindex");
        w.removeAttribute("role");
        w.removeAttribute("aria-label");
      }
    });
  }
  window.addEventListener("resize", function () { markScrollers(document); });
  document.addEventListener("htmx:afterSwap", function () { markScrollers(document); });

  // Selecting flags for a bulk action.
  function boxesOf(formId) {
    return document.querySelectorAll("input[type=checkbox][form='" + formId + "'][name=flags]");
  }
  function countSelected(formId) {
    var n = 0;
    boxesOf(formId).forEach(function (b) { if (b.checked) n += 1; });
    document.querySelectorAll("[data-selected-count='" + formId + "']").forEach(function (el) {
      el.textContent = n === 0 ? "No flags selected" : n === 1 ? "1 flag selected" : n + " flags selected";
    });
    var form = document.getElementById(formId);
    if (form) form.classList.toggle("has-selection", n > 0);
    document.querySelectorAll("[data-select-all='" + formId + "']").forEach(function (all) {
      var total = boxesOf(formId).length;
      all.checked = total > 0 && n === total;
      all.indeterminate = n > 0 && n < total;
    });
  }
  document.addEventListener("change", function (e) {
    var el = e.target;
    if (!(el instanceof HTMLInputElement) || el.type !== "checkbox") return;
    var all = el.getAttribute("data-select-all");
    if (all) {
      boxesOf(all).forEach(function (b) { b.checked = el.checked; });
      countSelected(all);
    } else if (el.name === "flags" && el.getAttribute("form")) {
      countSelected(el.getAttribute("form"));
    }
  });
  // The bulk bar shows the field its chosen action takes: the environment for a switch.
  function bulkMode(select) {
    var form = select.form;
    if (form) form.setAttribute("data-mode", /^(on|off)$/.test(select.value) ? "switch" : "value");
  }
  document.querySelectorAll("select[data-bulk-action]").forEach(bulkMode);
  document.addEventListener("change", function (e) {
    if (e.target instanceof HTMLSelectElement && e.target.hasAttribute("data-bulk-action")) bulkMode(e.target);
  });
  document.addEventListener("htmx:afterSwap", function () {
    document.querySelectorAll("[data-selected-count]").forEach(function (el) {
      countSelected(el.getAttribute("data-selected-count"));
    });
  });

  // ---------- The command palette (#palette in base.html) ----------
  // "/" (outside a text field) or a [data-palette-open] link opens a modal dialog: a combobox
  // whose words are looked up at /search/suggest, results in a listbox. Arrows move the
  // active option (aria-activedescendant), Enter opens it (or the search page when none is
  // active), Escape closes the dialog and gives focus back.
  var palette = {
    dialog: null, input: null, list: null, status: null,
    items: [], active: -1, timer: 0, asked: 0, back: null
  };

  function paletteReady() {
    if (palette.dialog) return true;
    palette.dialog = document.getElementById("palette");
    if (!palette.dialog || typeof palette.dialog.showModal !== "function") {
      palette.dialog = null;
      return false;
    }
    palette.input = document.getElementById("palette-input");
    palette.list = document.getElementById("palette-list");
    palette.status = document.getElementById("palette-status");
    palette.input.addEventListener("input", function () {
      window.clearTimeout(palette.timer);
      palette.timer = window.setTimeout(lookUp, 120);
    });
    palette.input.addEventListener("keydown", paletteKey);
    palette.list.addEventListener("mousedown", function (e) { e.preventDefault(); });
    palette.list.addEventListener("click", function (e) {
      var li = e.target instanceof Element ? e.target.closest("[role=option]") : null;
      if (li) openItem(Number(li.getAttribute("data-index")));
    });
    palette.dialog.addEventListener("close", function () {
      if (palette.back && typeof palette.back.focus === "function") palette.back.focus();
    });
    return true;
  }

  function openPalette() {
    if (!paletteReady()) return false;
    if (palette.dialog.open) return true;
    palette.back = document.activeElement;
    palette.dialog.showModal();
    palette.input.focus();
    palette.input.select();
    if (palette.input.value.trim() !== "") lookUp();
    return true;
  }

  function lookUp() {
    var q = palette.input.value.trim();
    var ticket = ++palette.asked;
    if (q === "") {
      show([]);
      palette.status.textContent = "";
      return;
    }
    fetch("/search/suggest?q=" + encodeURIComponent(q), {
      credentials: "same-origin", headers: { "Accept": "application/json" }
    }).then(function (r) {
      if (!r.ok) throw new Error("search answered " + r.status);
      return r.json();
    }).then(function (found) {
      if (ticket !== palette.asked) return; // an older answer, overtaken by typing
      show(found);
      palette.status.textContent = found.length === 0 ? "Nothing matches." :
        found.length === 1 ? "1 result." : found.length + " results.";
    }).catch(function () {
      if (ticket === palette.asked) palette.status.textContent = "Search is not available right now.";
    });
  }

  function show(found) {
    palette.items = found;
    palette.list.textContent = "";
    found.forEach(function (f, i) {
      var li = document.createElement("li");
      li.id = "palette-option-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      li.setAttribute("data-index", String(i));
      li.setAttribute("data-href", f.href);
      var kind = document.createElement("span");
      kind.className = "palette-kind";
      kind.textContent = f.kindLabel;
      var title = document.createElement("span");
      title.className = "palette-title";
      title.textContent = f.title;
      var detail = document.createElement("span");
      detail.className = "palette-detail";
      detail.textContent = f.detail;
      li.appendChild(kind);
      li.appendChild(title);
      li.appendChild(detail);
      palette.list.appendChild(li);
    });
    palette.input.setAttribute("aria-expanded", found.length > 0 ? "true" : "false");
    activate(found.length > 0 ? 0 : -1);
  }

  function activate(i) {
    var options = palette.list.querySelectorAll("[role=option]");
    options.forEach(function (o) { o.setAttribute("aria-selected", "false"); });
    palette.active = i;
    if (i < 0 || i >= options.length) {
      palette.active = -1;
      palette.input.removeAttribute("aria-activedescendant");
      return;
    }
    options[i].setAttribute("aria-selected", "true");
    palette.input.setAttribute("aria-activedescendant", options[i].id);
    options[i].scrollIntoView({ block: "nearest" });
  }

  function openItem(i) {
    var f = palette.items[i];
    if (f) window.location.assign(f.href);
  }

  function paletteKey(e) {
    var n = palette.items.length;
    if (e.key === "ArrowDown") {
      e.preventDefault();
      if (n > 0) activate((palette.active + 1) % n);
    } else if (e.key === "ArrowUp") {
      e.preventDefault();
      if (n > 0) activate((palette.active - 1 + n) % n);
    } else if (e.key === "Home" && n > 0 && e.ctrlKey) {
      e.preventDefault();
      activate(0);
    } else if (e.key === "End" && n > 0 && e.ctrlKey) {
      e.preventDefault();
      activate(n - 1);
    } else if (e.key === "Enter") {
      if (palette.active >= 0) {
        e.preventDefault();
        openItem(palette.active);
      } // otherwise the form goes to the search page
    }
  }

  document.addEventListener("keydown", function (e) {
    if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
    if (isTyping(e.target)) return;
    if (openPalette()) e.preventDefault();
  });

  document.addEventListener("click", function (e) {
    var opener = e.target instanceof Element ? e.target.closest("[data-palette-open]") : null;
    if (opener && openPalette()) e.preventDefault();
  });

  // Confirmation before destructive submits. Capture phase on the document, so
  // a refusal stops the event before htmx's own listeners on the form see it.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!(form instanceof HTMLFormElement)) return;
    var submitter = e.submitter;
    var message = (submitter && submitter.getAttribute("data-confirm")) ||
      form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  }, true);

  function isFormSubmitter(el) {
    if (!el.form) return false;
    var tag = el.tagName;
    var type = (el.getAttribute("type") || (tag === "BUTTON" ? "submit" : "")).toLowerCase();
    return (tag === "BUTTON" || tag === "INPUT") && (type === "submit" || type === "image");
  }

  document.addEventListener("click", function (e) {
    var target = e.target instanceof Element ? e.target : null;
    if (!target) return;

    var confirmEl = target.closest("[data-confirm]");
    if (confirmEl && confirmEl.tagName !== "FORM" && !isFormSubmitter(confirmEl)) {
      if (!window.confirm(confirmEl.getAttribute("data-confirm"))) {
        e.preventDefault();
        e.stopImmediatePropagation();
        return;
      }
    }

    var copyEl = target.closest("[data-copy]");
    if (copyEl) {
      e.preventDefault();
      copyFrom(copyEl);
      return;
    }

    var dismissEl = target.closest("[data-dismiss]");
    if (dismissEl) {
      var box = dismissEl.closest(".flash, [data-dismissable]");
      if (box) box.remove();
    }
  }, true);

  function copyFrom(button) {
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.tagName === "INPUT" || source.tagName === "TEXTAREA" ? source.value : source.textContent;
    text = (text || "").trim();

    var done = function () { flag(button, "copied", "Copied"); };
    var fail = function () {
      selectContents(source);
      flag(button, "failed", "Press Ctrl+C");
    };
    if (navigator.clipboard && window.isSecureContext) {
      // A browser that neither resolves nor rejects (permission prompt left open)
      // still gets the text selected for a manual copy.
      var settled = false;
      var timer = window.setTimeout(function () { if (!settled) fail(); }, 1500);
      navigator.clipboard.writeText(text).then(function () {
        settled = true;
        window.clearTimeout(timer);
        done();
      }, function () {
        settled = true;
        window.clearTimeout(timer);
        if (legacyCopy(source)) done(); else fail();
      });
    } else if (legacyCopy(source)) {
      done();
    } else {
      fail();
    }
  }

  function selectContents(el) {
    if (typeof el.select === "function") {
      el.focus();
      el.select();
      return;
    }
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  function legacyCopy(el) {
    try {
      selectContents(el);
      return document.execCommand("copy");
    } catch (_) {
      return false;
    }
  }

  function flag(button, state, label) {
    if (!button.hasAttribute("data-label")) button.setAttribute("data-label", button.textContent);
    button.setAttribute("data-state", state);
    button.textContent = label;
    window.clearTimeout(button._switchyardTimer);
    button._switchyardTimer = window.setTimeout(function () {
      button.textContent = button.getAttribute("data-label");
      button.removeAttribute("data-state");
    }, 2000);
  }

  // Filter bars that apply on change (the submit button stays for keyboard users).
  document.addEventListener("change", function (e) {
    var el = e.target;
    if (!(el instanceof Element) || !el.form || !el.form.hasAttribute("data-autosubmit")) return;
    var type = (el.getAttribute("type") || "").toLowerCase();
    if (el.tagName === "SELECT" || type === "checkbox" || type === "radio") {
      if (typeof el.form.requestSubmit === "function") el.form.requestSubmit();
      else el.form.submit();
    }
  });

  function autofocus(root) {
    var scope = root && root.querySelector ? root : document;
    var el = scope.matches && scope.matches("[data-autofocus]") ? scope : scope.querySelector("[data-autofocus]");
    if (el && typeof el.focus === "function") el.focus();
  }

  // htmx fires htmx:load for the body at start and for every swapped fragment.
  document.addEventListener("htmx:load", function (e) {
    if (e.target !== document.body) autofocus(e.target);
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      fold(document);
      markScrollers(document);
      autofocus(document);
    });
  } else {
    fold(document);
    markScrollers(document);
    autofocus(document);
  }
})();
