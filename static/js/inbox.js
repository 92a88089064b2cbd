// The inbox's keyboard shortcuts and the small care HTMX swaps need (which row is current, where
// the focus goes). Everything works without this file: links, forms and the server do the work.
//   j / k  next / previous conversation     r  write a reply
//   a      assign to me                     e  close the conversation
//   ?      show the list of shortcuts
// No shortcut fires while the user types in a field or holds Ctrl, Alt or Cmd.
(function () {
  "use strict";

  function isTyping(element) {
    if (!element || element === document.body) {
      return false;
    }
    var tag = element.tagName;
    return (
      tag === "INPUT" ||
      tag === "TEXTAREA" ||
      tag === "SELECT" ||
      element.isContentEditable
    );
  }

  function rows() {
    return Array.prototype.slice.call(
      document.querySelectorAll("#inbox-list a[data-conversation-id]")
    );
  }

  function currentId() {
    var panel = document.getElementById("conversation-panel");
    return panel ? panel.dataset.conversationId || "" : "";
  }

  function markCurrent() {
    var id = currentId();
    rows().forEach(function (link) {
      var on = link.dataset.conversationId === id;
      var row = link.closest("li");
      if (row) {
        row.classList.toggle("is-current", on);
      }
      if (on) {
        link.setAttribute("aria-current", "true");
      } else {
        link.removeAttribute("aria-current");
      }
    });
  }

  var openedByKey = false;

  function move(step) {
    var list = rows();
    if (!list.length) {
      return;
    }
    var id = currentId();
    var index = list.findIndex(function (link) {
      return link.dataset.conversationId === id;
    });
    if (index < 0) {
      index = step > 0 ? 0 : list.length - 1;
    } else {
      index = Math.min(list.length - 1, Math.max(0, index + step));
    }
    var link = list[index];
    openedByKey = true;
    link.focus();
    // HTMX listens for the click; without it the browser follows the link.
    link.click();
  }

  function press(id) {
    var button = document.getElementById(id);
    if (button && !button.disabled) {
      button.click();
      return true;
    }
    return false;
  }

  function showHelp() {
    var dialog = document.getElementById("inbox-help");
    if (dialog && typeof dialog.showModal === "function" && !dialog.open) {
      dialog.showModal();
    }
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    if (isTyping(event.target)) {
      return;
    }
    var dialog = document.getElementById("inbox-help");
    if (dialog && dialog.open) {
      return; // the dialog handles Escape and its own button
    }
    var handled = true;
    switch (event.key) {
      case "j":
        move(1);
        break;
      case "k":
        move(-1);
        break;
      case "r":
        var box = document.getElementById("reply-box");
        if (box) {
          box.focus();
        } else {
          handled = false;
        }
        break;
      case "a":
        handled = press("assign-me");
        break;
      case "e":
        handled = press("status-closed");
        break;
      case "?":
        showHelp();
        break;
      default:
        handled = false;
    }
    if (handled) {
      event.preventDefault();
    }
  });

  // The list refreshes itself every 10 s: keep the focus on the row it was on.
  var focusedRow = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "inbox-list") {
      var active = document.activeElement;
      focusedRow = active && active.dataset ? active.dataset.conversationId || null : null;
    }
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    markCurrent();
    var target = event.detail.elt;
    if (focusedRow) {
      var again = document.querySelector(
        '#inbox-list a[data-conversation-id="' + focusedRow + '"]'
      );
      if (again) {
        again.focus();
      }
      focusedRow = null;
    }
    if (target && target.id === "reply-field") {
      var box = document.getElementById("reply-box");
      if (box) {
        box.focus();
      }
    }
    if (target && target.id === "conversation-panel" && !openedByKey) {
      // A click opened it: bring a keyboard or screen-reader user to what they opened.
      if (document.activeElement && document.activeElement.closest("#inbox-list")) {
        target.focus();
      }
    }
    if (target && target.id === "conversation-panel") {
      openedByKey = false;
    }
  });

  function setUp() {
    document.querySelectorAll("[data-inbox-help]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", showHelp);
    });
    markCurrent();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
