from django.urls import path

from sampleproject.board.views import api, dashboard

app_name = "board"
urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("api/summary/", api.summary, name="summary"),
]
