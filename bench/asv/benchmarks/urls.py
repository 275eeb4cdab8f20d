from django.urls import include, path

urlpatterns = [
    path(
        "handler-call/",
        include("benchmarks.req_resp_benchmarks.handler_call.urls"),
    ),
]
