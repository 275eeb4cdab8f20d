"""A Jinja2 template backend whose templates also render asynchronously.

Shown on docs/guides/templates.md. Django's own
:class:`~django.template.backends.jinja2.Jinja2` backend renders with
``Template.render()``, which cannot run inside an event loop once Jinja2's
``enable_async`` is on. This backend turns ``enable_async`` on and adds
``render_async()``, so an async view can await the render, and the template
can await the data it iterates over.
"""

from __future__ import annotations

from django.template.backends.jinja2 import Jinja2, Template
from django.template.backends.utils import csrf_input_lazy, csrf_token_lazy


# start-backend
class AsyncJinja2(Jinja2):
    """``BACKEND = "snippets.guides.jinja_async.AsyncJinja2"``."""

    def __init__(self, params):
        params = params.copy()
        params["OPTIONS"] = {**params.get("OPTIONS", {}), "enable_async": True}
        super().__init__(params)

    def from_string(self, template_code):
        return AsyncTemplate(self.env.from_string(template_code), self)

    def get_template(self, template_name):
        # Django's version wraps the template in its own Template class.
        return AsyncTemplate(super().get_template(template_name).template, self)


class AsyncTemplate(Template):
    async def render_async(self, context=None, request=None) -> str:
        context = {} if context is None else context
        if request is not None:
            # What Template.render() adds; the processors run here, sync.
            context["request"] = request
            context["csrf_input"] = csrf_input_lazy(request)
            context["csrf_token"] = csrf_token_lazy(request)
            for processor in self.backend.template_context_processors:
                context.update(processor(request))
        return await self.template.render_async(context)


# end-backend
