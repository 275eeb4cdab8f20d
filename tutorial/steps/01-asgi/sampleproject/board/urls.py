from django.urls import path

from sampleproject.board.views import api

app_name = "board"
urlpatterns = [
    path("api/where/", api.where_async, name="where"),
    path("api/where-sync/", api.where_sync, name="where-sync"),
]
