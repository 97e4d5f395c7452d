"""Refuse oversized request bodies before they are read (Starlette would spool a whole upload first)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vidrag.api.errors import error_body


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    """413 for bodies over ``limit`` bytes on paths starting with one of ``prefixes``.

    A declared Content-Length is refused at once; a chunked body is counted as it arrives.
    """

    def __init__(self, app: ASGIApp, *, limit: int, prefixes: tuple[str, ...], message: str) -> None:
        self.app = app
        self.limit = limit
        self.prefixes = prefixes
        self.message = message

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"").decode()
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0
        exceeded = refused = False

        async def counting_receive() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    exceeded = True
                    raise _TooLarge
            return message

        async def replacing_send(message: Message) -> None:
            # The framework may turn our exception into its own error response: answer 413 instead.
            nonlocal refused
            if not exceeded:
                await send(message)
            elif not refused:
                refused = True
                await self._refuse(send)

        try:
            await self.app(scope, counting_receive, replacing_send)
        except _TooLarge:
            if not refused:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(error_body("payload_too_large", self.message)).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
