from ads.views import campaigns, influencers, insights, links

app_name = "ads"

urlpatterns = [
    *campaigns.urlpatterns,
    *insights.urlpatterns,
    *influencers.urlpatterns,
    *links.urlpatterns,
]
