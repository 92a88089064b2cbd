from reports.views import analytics, exports, goals, portal

app_name = "reports"

urlpatterns = [
    *analytics.urlpatterns,
    *goals.urlpatterns,
    *portal.urlpatterns,
    *exports.urlpatterns,
]
