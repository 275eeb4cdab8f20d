from django.urls import path

from bench import views

urlpatterns = [
    path("trivial/sync/", views.trivial_sync),
    path("trivial/async/", views.trivial_async),
    path("services/sync/", views.services_sync),
    path("services/async/", views.services_async),
]
