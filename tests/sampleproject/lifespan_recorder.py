"""The sample project's ASGI app, noting each lifespan message it exchanges.

tests/sampleproject/test_deployments.py starts each deployment script with
this app in place of ``sampleproject.asgi:application``, to see which servers
speak the lifespan protocol. Each message type goes on a line of the file
named by ``LIFESPAN_LOG``.
"""

import os

from sampleproject.asgi import application as board


def note(kind: str) -> None:
    with open(os.environ["LIFESPAN_LOG"], "a") as log:
        log.write(kind + "\n")


async def application(scope, receive, send):
    if scope["type"] != "lifespan":
        return await board(scope, receive, send)

    async def noted_receive():
        message = await receive()
        note(message["type"])
        return message

    async def noted_send(message):
        note(message["type"])
        await send(message)

    return await board(scope, noted_receive, noted_send)
