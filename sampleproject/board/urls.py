from django.urls import path

from sampleproject.board.views import api, dashboard, events, manage, services

app_name = "board"
urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("services/add/", manage.add_service, name="service-add"),
    path(
        "services/<slug:slug>/",
        services.ServiceDetailView.as_view(),
        name="service-detail",
    ),
    # The quickstart's view.
    path("api/summary/", api.summary, name="summary"),
    # End of the quickstart's view.
    path("api/check-all/", api.check_all_view, name="check-all"),
    path("api/check-all-sync/", api.check_all_sync_view, name="check-all-sync"),
    path("events/", events.events, name="events"),
]
