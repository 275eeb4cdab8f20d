from django.test.utils import override_settings

from ...utils import bench_setup, requests_for

MIDDLEWARE_COUNT = 5
MIDDLEWARE = "benchmarks.req_resp_benchmarks.middleware_adaptation.middleware."


class MiddlewareAdaptation:
    """Five pass-through middleware in front of the view each handler runs natively.

    A sync view under WSGI, an async view under ASGI: the only adaptation is
    the middleware's. ``sync-only`` middleware under ASGI and ``async-only``
    middleware under WSGI are adapted (a thread hop or an event loop per
    layer); ``both`` never is.
    """

    params = (["wsgi", "asgi"], ["none", "sync-only", "async-only", "both"])
    param_names = ["handler", "middleware"]

    def setup(self, handler, middleware):
        bench_setup()
        chain = (
            [] if middleware == "none" else [MIDDLEWARE + middleware.replace("-", "_")]
        )
        self.settings = override_settings(MIDDLEWARE=chain * MIDDLEWARE_COUNT)
        self.settings.enable()
        view = "sync" if handler == "wsgi" else "async"
        self.requests = requests_for(handler, f"/handler-call/{view}/")
        self.requests.check()

    def teardown(self, handler, middleware):
        self.requests.close()
        self.settings.disable()

    def time_call(self, handler, middleware):
        self.requests.run()
