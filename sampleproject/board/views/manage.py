"""Adding a service: login required, CSRF-protected, the URL checked against SSRF."""

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.shortcuts import redirect, render

from sampleproject.board.forms import ServiceForm
from sampleproject.board.state import forget_tiles
from sampleproject.board.urlsafety import UnsafeURL, aresolve_and_check


@login_required
async def add_service(request):
    user = await request.auser()
    # Not `request.POST or None`: an empty POST is falsy, and would get an
    # unbound form, no errors and a 200 instead of "This field is required."
    form = ServiceForm(request.POST if request.method == "POST" else None)
    # is_valid() checks the slug is unique with a sync query: run it in a thread.
    if request.method == "POST" and await sync_to_async(form.is_valid)():
        url = form.cleaned_data["url"]
        try:
            await aresolve_and_check(url, settings.BOARD_ALLOWED_TARGETS)
        except UnsafeURL as exc:
            form.add_error("url", str(exc))
        else:
            try:
                await form.instance.asave()
            except IntegrityError:
                # Another request took the slug between validation and insert.
                form.add_error("slug", "A service with this slug already exists.")
            else:
                await forget_tiles()
                return redirect(form.instance)
    status = 400 if form.errors else 200
    return render(
        request, "board/service_form.html", {"form": form, "user": user}, status=status
    )
