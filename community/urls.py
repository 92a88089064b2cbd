from community.views import curation, giveaways, health, inbox, listening, saved_replies, webhooks

app_name = "community"

# Webhooks first: they are the busiest URLs (platforms post every event), and each pattern
# tried before a match costs every request a few microseconds.
urlpatterns = [
    *webhooks.urlpatterns,
    *inbox.urlpatterns,
    *listening.urlpatterns,
    *curation.urlpatterns,
    *giveaways.urlpatterns,
    *health.urlpatterns,
    *saved_replies.urlpatterns,
]
