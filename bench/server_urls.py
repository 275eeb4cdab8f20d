from django.urls import path

from bench import server_views, views
from sampleproject.board.views import api, events

urlpatterns = [
    path("trivial/sync/", views.trivial_sync),
    path("trivial/async/", views.trivial_async),
    path("sleep/sync/", server_views.sleep_sync),
    path("sleep/async/", server_views.sleep_async),
    path("wait/sync/<int:ms>/", server_views.wait_sync),
    path("wait/async/<int:ms>/", server_views.wait_async),
    path("compute/sync/<int:ms>/", server_views.compute_sync),
    path("compute/async/<int:ms>/", server_views.compute_async),
    path("compute/async-thread/<int:ms>/", server_views.compute_async_in_thread),
    path("api/check-all/", api.check_all_view),
    path("api/check-all-sync/", api.check_all_sync_view),
    path("events/", events.events),
    path("events/sync/", server_views.events_sync),
]
