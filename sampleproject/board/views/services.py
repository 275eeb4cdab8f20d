"""A service's page: its recent checks, paginated, and its incidents."""

from django.shortcuts import aget_object_or_404, render
from django.views import View

from sampleproject.board.models import Service
from sampleproject.board.pagination import apaginate


class ServiceDetailView(View):
    """An async class-based view: every handler is ``async def``."""

    paginate_by = 25

    async def get(self, request, slug):
        service = await aget_object_or_404(Service, slug=slug)
        page = await apaginate(
            service.checks.order_by("-checked_at"),
            request.GET.get("page"),
            self.paginate_by,
        )
        incidents = [incident async for incident in service.incidents.all()[:10]]
        user = await request.auser()
        context = {
            "service": service,
            "page": page,
            "incidents": incidents,
            "user": user,
        }
        return render(request, "board/service_detail.html", context)
