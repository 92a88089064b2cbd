// Daily chart of a campaign's insights (templates/ads/insights/_kpis.html).
//
// The numbers come from a json_script block next to each <canvas data-insights-chart="ID">,
// never from inline script. htmx.onLoad runs for the page and for every fragment HTMX swaps in
// (the campaign page loads the panel that way), so charts appear either way. The table beside
// the chart has the same numbers for screen readers and for when scripts are off.
(function () {
  "use strict";

  function draw(canvas) {
    if (canvas.dataset.drawn || typeof window.Chart === "undefined") return;
    const source = document.getElementById(canvas.dataset.insightsChart);
    if (!source) return;
    const data = JSON.parse(source.textContent);
    canvas.dataset.drawn = "1";
    const accent = getComputedStyle(document.documentElement).getPropertyValue("--accent") || "#1d4ed8";
    new window.Chart(canvas, {
      data: {
        labels: data.labels,
        datasets: [
          {
            type: "bar",
            label: "Spend (" + data.currency + ")",
            data: data.spend.map(Number),
            yAxisID: "money",
            backgroundColor: accent.trim() || "#1d4ed8",
          },
          {
            type: "line",
            label: "Clicks",
            data: data.clicks,
            yAxisID: "count",
            borderColor: "#f59e0b",
            backgroundColor: "#f59e0b",
            tension: 0.2,
          },
          {
            type: "line",
            label: "Conversions",
            data: data.conversions.map(Number),
            yAxisID: "count",
            borderColor: "#15803d",
            backgroundColor: "#15803d",
            tension: 0.2,
          },
        ],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          money: { type: "linear", position: "left", beginAtZero: true, title: { display: true, text: data.currency } },
          count: { type: "linear", position: "right", beginAtZero: true, grid: { drawOnChartArea: false } },
        },
      },
    });
  }

  function drawAll(root) {
    (root || document).querySelectorAll("canvas[data-insights-chart]").forEach(draw);
  }

  if (window.htmx) {
    window.htmx.onLoad(drawAll);
  } else {
    document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  }
})();
