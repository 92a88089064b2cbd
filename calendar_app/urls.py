from calendar_app.views import approvals, calendar, composer, imports, library, posts, slots

app_name = "calendar"

urlpatterns = [
    *posts.urlpatterns,
    *calendar.urlpatterns,
    *composer.urlpatterns,
    *slots.urlpatterns,
    *approvals.urlpatterns,
    *imports.urlpatterns,
    *library.urlpatterns,
]
