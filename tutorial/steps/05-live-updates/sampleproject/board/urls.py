from django.urls import path

from sampleproject.board.views import api, dashboard, events

app_name = "board"
urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("api/summary/", api.summary, name="summary"),
    path("api/check-all/", api.check_all_view, name="check-all"),
    path("api/check-all-sync/", api.check_all_sync_view, name="check-all-sync"),
    path("events/", events.events, name="events"),
]
