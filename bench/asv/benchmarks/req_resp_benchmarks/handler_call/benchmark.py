from ...utils import bench_setup, requests_for


class HandlerCall:
    """The four request paths: a sync or an async view, under WSGI or ASGI.

    Through ``WSGIHandler.__call__`` and ``ASGIHandler.__call__``, as a server
    calls them, so the figures include what a server's request costs: under
    ASGI the per-request thread-sensitive context and the thread it starts,
    the body read and the disconnect listener. No middleware.
    """

    params = (["wsgi", "asgi"], ["sync", "async"])
    param_names = ["handler", "view"]

    def setup(self, handler, view):
        bench_setup()
        self.requests = requests_for(handler, f"/handler-call/{view}/")
        self.requests.check()

    def teardown(self, handler, view):
        self.requests.close()

    def time_call(self, handler, view):
        self.requests.run()
