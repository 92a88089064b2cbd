// Small behaviours every page may use, driven by data attributes instead of inline style and
// script (the Content-Security-Policy allows neither):
//   data-brand-color="#RRGGBB"   sets --brand-color on the element (tiles, swatches, headers)
//   data-select-on-focus         selects a read-only field's text when it gets the focus
// htmx.onLoad runs for the page and for every fragment htmx swaps in.
(function () {
  "use strict";

  var HEX = /^#[0-9a-fA-F]{6}$/;

  function within(root, selector) {
    var found = Array.prototype.slice.call(root.querySelectorAll(selector));
    if (root.matches && root.matches(selector)) found.unshift(root);
    return found;
  }

  function apply(root) {
    within(root, "[data-brand-color]").forEach(function (element) {
      var color = element.dataset.brandColor;
      if (HEX.test(color)) {
        element.style.setProperty("--brand-color", color);
      }
    });
    within(root, "[data-select-on-focus]").forEach(function (field) {
      if (field.dataset.selectOnFocusReady) return;
      field.dataset.selectOnFocusReady = "1";
      field.addEventListener("focus", function () {
        field.select();
      });
    });
  }

  function start() {
    if (window.htmx && typeof window.htmx.onLoad === "function") {
      window.htmx.onLoad(function (element) {
        apply(element.querySelectorAll ? element : document);
      });
    } else {
      apply(document);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
