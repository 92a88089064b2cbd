from community.views import curation, giveaways, health, inbox, listening, saved_replies, webhooks

app_name = "community"

urlpatterns = [
    *inbox.urlpatterns,
    *webhooks.urlpatterns,
    *listening.urlpatterns,
    *curation.urlpatterns,
    *giveaways.urlpatterns,
    *health.urlpatterns,
    *saved_replies.urlpatterns,
]
