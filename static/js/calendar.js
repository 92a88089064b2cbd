// The content calendar (templates/calendar_app/calendar/calendar.html).
//
// FullCalendar cannot show named time zones without a plugin, so it is told that everything is
// UTC, and the server sends (and expects back) wall-clock times of each brand's zone without an
// offset. `toISOString().slice(0, 19)` of a date FullCalendar gives is therefore that wall-clock.
(function () {
  "use strict";

  function csrfToken(container) {
    if (container.dataset.csrfToken) return container.dataset.csrfToken;
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (e) {
      return "";
    }
  }

  function wallClock(date) {
    return date.toISOString().slice(0, 19);
  }

  function say(status, message, isError) {
    status.textContent = message;
    status.classList.toggle("is-error", Boolean(isError));
  }

  function withParams(base, params) {
    const url = new URL(base, window.location.origin);
    Object.keys(params).forEach(function (key) {
      url.searchParams.set(key, params[key]);
    });
    return url;
  }

  const MONTH_PER_DAY = 5;
  const DAY_MS = 24 * 60 * 60 * 1000;

  function start() {
    const container = document.getElementById("calendar");
    const status = document.getElementById("calendar-status");
    const exportLink = document.getElementById("calendar-export");
    if (!container || !status || !window.FullCalendar) return;

    const calendar = new window.FullCalendar.Calendar(container, {
      timeZone: "UTC",
      now: container.dataset.now || undefined,
      initialView: "dayGridMonth",
      firstDay: 1,
      height: "auto",
      headerToolbar: {
        left: "prev,next today",
        center: "title",
        right: "dayGridMonth,timeGridWeek,listMonth",
      },
      buttonText: { today: "Today", month: "Month", week: "Week", list: "List" },
      allDaySlot: false,
      editable: false,
      eventDurationEditable: false,
      eventDisplay: "block",
      displayEventEnd: false,
      eventTimeFormat: { hour: "2-digit", minute: "2-digit", hour12: false, omitZeroMinute: false },
      slotLabelFormat: { hour: "2-digit", minute: "2-digit", hour12: false },
      dayMaxEvents: MONTH_PER_DAY + 1,
      scrollTime: "07:00:00",

      events: function (info, success, failure) {
        const params = { start: wallClock(info.start), end: wallClock(info.end) };
        // Month and list views (ranges of weeks): the server sends a day's first posts and one
        // "+N more" for the rest, as a day of a busy brand is more than a month cell can show.
        // Week and day views get every post. (The range, not the view: FullCalendar asks for
        // the first events before the calendar object exists.)
        if (info.end - info.start > 8 * DAY_MS) params.per_day = MONTH_PER_DAY;
        const url = withParams(container.dataset.eventsUrl, params);
        fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
          .then(function (response) {
            return response.json().then(function (data) {
              if (!response.ok) throw new Error(data.error || "The calendar could not be loaded.");
              return data;
            });
          })
          .then(success)
          .catch(function (error) {
            say(status, error.message || "The calendar could not be loaded.", true);
            failure(error);
          });
      },

      // The CSV export follows the range on screen.
      datesSet: function (info) {
        if (!exportLink) return;
        exportLink.href = withParams(container.dataset.exportUrl, {
          start: wallClock(info.start),
          end: wallClock(info.end),
        }).toString();
      },

      // "+N more" opens that day with all its posts.
      eventClick: function (info) {
        const more = info.event.extendedProps.more;
        if (!more) return;
        info.jsEvent.preventDefault();
        calendar.changeView("timeGridDay", info.event.extendedProps.date);
        // FullCalendar would reuse the month's events (the day is inside the range it has);
        // the day's own fetch has every post.
        calendar.refetchEvents();
      },

      eventDrop: function (info) {
        const event = info.event;
        const props = event.extendedProps;
        fetch(props.rescheduleUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: {
            "Content-Type": "application/json",
            Accept: "application/json",
            "X-CSRFToken": csrfToken(container),
          },
          body: JSON.stringify({ start: wallClock(event.start) }),
        })
          .then(function (response) {
            return response
              .json()
              .catch(function () {
                return {};
              })
              .then(function (data) {
                if (!response.ok) {
                  info.revert();
                  say(status, "Not moved: " + (data.error || "the server refused."), true);
                  return;
                }
                say(status, event.title + ": " + data.message, false);
                if (data.refetch) calendar.refetchEvents();
              });
          })
          .catch(function () {
            info.revert();
            say(status, "Not moved: the server could not be reached.", true);
          });
      },
    });
    calendar.render();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
