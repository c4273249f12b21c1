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
  document.addEventListener("htmx:afterSwap", function () {
    document.querySelectorAll("[data-selected-count]").forEach(function (el) {
      countSelected(el.getAttribute("data-selected-count"));
    });
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
    document.addEventListener("DOMContentLoaded", function () { fold(document); autofocus(document); });
  } else {
    fold(document);
    autofocus(document);
  }
})();
