"""A chat client for any OpenAI-compatible ``/v1/chat/completions`` (OpenAI, Ollama, vLLM, DeepSeek, Qwen, ...).

Plain httpx, so the service needs no vendor SDK. Every failure becomes ``ServiceUnavailable(code="llm_unavailable")``
with a message that names the setting to check.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator, Sequence
from types import TracebackType
from typing import Any

import httpx

from vidrag.domain.errors import ServiceUnavailable

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}
CODE = "llm_unavailable"
_CHECK = "check VIDRAG_LLM_BASE_URL (an OpenAI-compatible base URL ending in /v1) and that the server is running"


class ChatClient:
    """One per process: it keeps a connection pool. ``close()`` releases it."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 60.0,
                 temperature: float = 0.1) -> None:
        self.url = f"{base_url.rstrip('/')}/chat/completions"
        self.model = model
        self.temperature = temperature
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)))

    def complete(self, messages: Sequence[Message]) -> str:
        """The whole answer in one response."""
        response = self._send(messages, stream=False)
        try:
            response.read()
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        finally:
            response.close()
        return _message_content(_json(response))

    def stream(self, messages: Sequence[Message]) -> DeltaStream:
        """The answer as text deltas (SSE). The request is sent and its status checked here, before the first
        delta is asked for, so a server that is down or refuses fails the call instead of a half-sent response."""
        return DeltaStream(self._send(messages, stream=True), self.url)

    def close(self) -> None:
        self._http.close()

    def _send(self, messages: Sequence[Message], *, stream: bool) -> httpx.Response:
        body: dict[str, Any] = {"model": self.model, "messages": list(messages), "temperature": self.temperature,
                                "stream": stream}
        request = self._http.build_request("POST", self.url, json=body,
                                           headers={"Accept": "text/event-stream" if stream else "application/json"})
        try:
            response = self._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        if response.status_code >= 400:
            try:
                response.read()
            except httpx.HTTPError:
                pass
            finally:
                response.close()
            raise _refused(response, self.model)
        return response

    def _unreachable(self, exc: httpx.HTTPError) -> ServiceUnavailable:
        what = "did not answer in time" if isinstance(exc, httpx.TimeoutException) else "could not be reached"
        return ServiceUnavailable(f"the language model at {self.url} {what} ({type(exc).__name__}: {exc}); {_CHECK}, "
                                  "or raise VIDRAG_LLM_TIMEOUT_SECONDS", code=CODE)


class DeltaStream:
    """Iterates the content deltas of a streamed completion until ``data: [DONE]``; closes the response at the end.

    A server that ignores ``stream`` and sends one JSON completion is accepted too (one delta).
    """

    def __init__(self, response: httpx.Response, url: str) -> None:
        self._response = response
        self._url = url
        self._deltas = self._read()

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        return next(self._deltas)

    def __enter__(self) -> DeltaStream:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._deltas.close()
        self._response.close()

    def _read(self) -> Generator[str, None, None]:
        try:
            if self._response.headers.get("content-type", "").startswith("application/json"):
                self._response.read()
                yield _message_content(_json(self._response))
                return
            finished = False
            for line in self._response.iter_lines():
                if not line.startswith("data:"):
                    continue  # comments (keep-alives), event names, ids, blank separators
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                chunk = _parse(data)
                finished = finished or _finish_reason(chunk) is not None
                if text := _delta_content(chunk):
                    yield text
            if not finished:  # neither [DONE] nor a finish_reason: the answer was cut off
                raise httpx.RemoteProtocolError("the stream ended before the answer was finished")
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"the language model at {self._url} broke off its answer "
                                     f"({type(exc).__name__}: {exc}); {_CHECK}", code=CODE) from exc
        finally:
            self._response.close()


def _refused(response: httpx.Response, model: str) -> ServiceUnavailable:
    status = response.status_code
    detail = _error_message(response)
    if status in (401, 403):
        hint = "check VIDRAG_LLM_API_KEY"
    elif status == 404:
        hint = f"check VIDRAG_LLM_BASE_URL (it should end in /v1) and that model '{model}' exists (VIDRAG_LLM_MODEL)"
    elif status == 429:
        hint = "the model's server is rate limiting; try again later or raise its quota"
    else:
        hint = f"check the model's server and VIDRAG_LLM_MODEL ('{model}')"
    return ServiceUnavailable(f"the language model at {response.request.url} answered HTTP {status}"
                              f"{': ' + detail if detail else ''}; {hint}", code=CODE)


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip()
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return str(error.get("message") or "")[:300]
        return str(error)[:300]
    return ""


def _json(response: httpx.Response) -> Any:
    return _parse(response.text)


def _parse(data: str) -> Any:
    try:
        body = json.loads(data)
    except ValueError as exc:
        raise ServiceUnavailable(f"the language model answered something that is not JSON ({data[:120]!r}); "
                                 f"{_CHECK}", code=CODE) from exc
    if isinstance(body, dict) and body.get("error"):
        error = body["error"]
        message = error.get("message") if isinstance(error, dict) else error
        raise ServiceUnavailable(f"the language model reported an error: {message}", code=CODE)
    return body


def _message_content(body: Any) -> str:
    try:
        content = body["choices"][0]["message"].get("content")
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ServiceUnavailable("the language model's answer has no choices[0].message; is "
                                 "VIDRAG_LLM_BASE_URL an OpenAI-compatible chat API?", code=CODE) from exc
    return content if isinstance(content, str) else ""


def _delta_content(chunk: Any) -> str:
    try:
        choices = chunk.get("choices") or []
        content = (choices[0].get("delta") or {}).get("content") if choices else None
    except AttributeError as exc:
        raise ServiceUnavailable(f"the language model streamed an unexpected chunk ({str(chunk)[:120]}); is "
                                 "VIDRAG_LLM_BASE_URL an OpenAI-compatible chat API?", code=CODE) from exc
    return content if isinstance(content, str) else ""


def _finish_reason(chunk: Any) -> Any:
    choices = chunk.get("choices") if isinstance(chunk, dict) else None
    return choices[0].get("finish_reason") if choices and isinstance(choices[0], dict) else None
