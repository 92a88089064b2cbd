/* Charts of the reports: read the daily numbers from the json_script "report-daily" and draw one
 * Chart.js line chart per <canvas data-report-chart="...">. Without JavaScript (or Chart.js) the
 * table under the charts still has every number. */
(function () {
  "use strict";

  // The brand's colour comes from a data attribute (no inline styles under the CSP); in the
  // portal the theme stylesheet also sets --brand-color.
  function brandColor(element) {
    var holder = element.closest("[data-brand-color]");
    var color = holder ? holder.getAttribute("data-brand-color") : "";
    if (!/^#[0-9a-fA-F]{6}$/.test(color || "")) {
      color = getComputedStyle(element).getPropertyValue("--brand-color").trim();
    }
    return color || "#1d4ed8";
  }

  function series(days, key) {
    return days.map(function (day) { return day[key]; });
  }

  function rates(days) {
    // Engagement rate = engagements / reach, in per cent; a day without reach has no rate.
    return days.map(function (day) {
      return day.reach ? Math.round((day.engagements / day.reach) * 10000) / 100 : null;
    });
  }

  function datasets(kind, days, color) {
    if (kind === "followers") {
      return [{ label: "Followers", data: series(days, "followers"), borderColor: color, backgroundColor: color, spanGaps: true }];
    }
    if (kind === "reach") {
      return [
        { label: "Reach", data: series(days, "reach"), borderColor: color, backgroundColor: color },
        { label: "Impressions", data: series(days, "impressions"), borderColor: "#5b6472", backgroundColor: "#5b6472", borderDash: [6, 4] }
      ];
    }
    if (kind === "engagement_rate") {
      return [{ label: "Engagement rate (% of reach)", data: rates(days), borderColor: color, backgroundColor: color, spanGaps: true }];
    }
    return [];
  }

  function draw() {
    var source = document.getElementById("report-daily");
    if (!source || typeof window.Chart === "undefined") {
      return;
    }
    var days = JSON.parse(source.textContent);
    var labels = days.map(function (day) { return day.date; });
    document.querySelectorAll("canvas[data-report-chart]").forEach(function (canvas) {
      var kind = canvas.getAttribute("data-report-chart");
      new window.Chart(canvas, {
        type: "line",
        data: { labels: labels, datasets: datasets(kind, days, brandColor(canvas)) },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          interaction: { mode: "index", intersect: false },
          elements: { point: { radius: days.length > 45 ? 0 : 2 } },
          plugins: { legend: { display: kind === "reach" } },
          scales: { y: { beginAtZero: kind !== "followers" } }
        }
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
