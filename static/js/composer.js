// The composer's small helpers: insert a hashtag set or snippet at the cursor, and show the
// variant of each chosen account only. Counting and checking stay on the server (HTMX).
(function () {
  "use strict";

  function insertAtCursor(field, text) {
    var start = field.selectionStart == null ? field.value.length : field.selectionStart;
    var end = field.selectionEnd == null ? start : field.selectionEnd;
    var before = field.value.slice(0, start);
    var after = field.value.slice(end);
    // A space on each side unless there is one already, so words do not run together.
    var lead = before && !/\s$/.test(before) ? " " : "";
    var trail = after && !/^\s/.test(after) ? " " : "";
    var piece = lead + text + trail;
    field.value = before + piece + after;
    var caret = start + piece.length;
    field.focus();
    field.setSelectionRange(caret, caret);
    // Lets the live check (hx-trigger "input changed") see the new text.
    field.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function setUpInserts(root) {
    root.querySelectorAll("select[data-insert-into]").forEach(function (select) {
      select.addEventListener("change", function () {
        var option = select.options[select.selectedIndex];
        var field = document.getElementById(select.dataset.insertInto);
        if (!option || !option.value || !field) {
          return;
        }
        insertAtCursor(field, option.dataset.text || "");
        select.selectedIndex = 0;
      });
    });
  }

  function syncVariants(root) {
    root.querySelectorAll("input[data-account-choice]").forEach(function (box) {
      var variant = root.querySelector('[data-variant-for="' + box.value + '"]');
      if (variant) {
        variant.hidden = !box.checked;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("composer-form");
    if (!form) {
      return;
    }
    setUpInserts(form);
    syncVariants(form);
    form.addEventListener("change", function (event) {
      if (event.target.matches("input[data-account-choice]")) {
        syncVariants(form);
      }
    });
  });
})();
