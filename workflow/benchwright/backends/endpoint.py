"""Text generation through an OpenAI-compatible HTTP endpoint (vLLM, SGLang, TGI, TensorRT-LLM, ``transformers
serve``): ``POST {base_url}/completions`` with ``stream: true``, one request per prompt (the prompt as token ids),
up to ``concurrency`` at a time.

The first streamed chunk with text is the request's first token (the SUT calls LoadGen's FirstTokenComplete
then); at the end, the whole text is tokenized with the model's ``tokenizer.json`` to give LoadGen the token ids
and their count, as MLCommons' API-endpoint harnesses do. The API key is read from an environment variable and
never written anywhere: errors show the status and body of the response, never the request's headers.

Limits are bounded: a connect/read timeout per request, ``max_retries`` re-sends of a request that failed before
its first byte (connection refused or reset), and none after: a stream cut in the middle fails the run.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from ..errors import BenchwrightError
from .generate import OnToken


class EndpointError(BenchwrightError):
    """The endpoint refused a request, broke off, or never answered: the run fails with what it said."""


def check_base_url(base_url: str) -> str:
    """The base URL without a trailing slash; an error unless it is http(s)://host[:port][/path]."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise EndpointError(f"benchwright: endpoint base_url {base_url!r} is not an http(s) URL; expected e.g. "
                            "http://127.0.0.1:8000/v1 (the server's OpenAI-compatible API root)")
    return base_url.rstrip("/")


def api_key(variable: str | None) -> str | None:
    """The key from the environment variable the campaign names (None: the endpoint needs no key)."""
    if variable is None:
        return None
    key = os.environ.get(variable)
    if not key:
        raise EndpointError(f"benchwright: the endpoint's API key variable {variable} is not set; export it before "
                            "the run (the key is read from the environment only, never from the campaign)")
    return key


class EndpointGenerator:
    """``generate(prompts, max_new_tokens, on_token)`` over an OpenAI-compatible completions endpoint."""

    def __init__(self, base_url: str, model: str, tokenizer_file: str | os.PathLike[str], *,
                 api_key_env: str | None = None, timeout_s: float = 60.0, max_retries: int = 2,
                 concurrency: int = 8):
        import httpx
        from tokenizers import Tokenizer

        self.base_url, self.model = check_base_url(base_url), model
        self.max_retries, self.concurrency = max_retries, concurrency
        path = Path(tokenizer_file)
        if not path.is_file():
            raise EndpointError(f"benchwright: {path} is missing; the endpoint SUT counts the generated tokens with "
                                "the served model's tokenizer.json (copy it from the model folder)")
        self.tokenizer = Tokenizer.from_file(str(path))
        key = api_key(api_key_env)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.client = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout_s),
                                   limits=httpx.Limits(max_connections=concurrency))
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="endpoint")

    def identity(self) -> dict[str, Any]:
        """What the endpoint says it serves (``GET /models``) and its ``server`` header, for provenance."""
        response = self._send("GET", "/models")
        body = response.json()
        return {"base_url": self.base_url, "model": self.model,
                "served_models": sorted(m.get("id", "") for m in body.get("data", [])),
                "server": response.headers.get("server")}

    def describe(self) -> dict[str, Any]:
        return {"backend": "openai-endpoint", "base_url": self.base_url, "model": self.model,
                "concurrency": self.concurrency}

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        for attempt in range(self.max_retries + 1):
            try:
                response = self.client.request(method, self.base_url + path, **kwargs)
            except (httpx.ConnectError, httpx.RemoteProtocolError) as exc:
                if attempt == self.max_retries:
                    raise EndpointError(f"benchwright: {method} {self.base_url}{path}: {exc} (after "
                                        f"{attempt + 1} tries)") from None
                continue
            except httpx.TimeoutException as exc:
                raise EndpointError(f"benchwright: {method} {self.base_url}{path}: no answer ({exc!r})") from None
            self._raise_for_status(response, method, path)
            return response
        raise AssertionError("unreachable")

    def _raise_for_status(self, response: Any, method: str, path: str) -> None:
        if response.status_code >= 400:
            body = response.read().decode("utf-8", "replace")[:2000]
            raise EndpointError(f"benchwright: {method} {self.base_url}{path} answered HTTP {response.status_code}: "
                                f"{body}")

    def _one(self, index: int, prompt: np.ndarray, max_new_tokens: int, on_token: OnToken | None,
             lock: threading.Lock) -> np.ndarray:
        import httpx

        payload = {"model": self.model, "prompt": [int(t) for t in prompt], "max_tokens": max_new_tokens,
                   "temperature": 0, "stream": True}
        url = self.base_url + "/completions"
        text: list[str] = []
        for attempt in range(self.max_retries + 1):
            try:
                with self.client.stream("POST", url, json=payload) as response:
                    self._raise_for_status(response, "POST", "/completions")
                    for line in response.iter_lines():
                        if not line.startswith("data:"):
                            continue
                        data = line[5:].strip()
                        if data == "[DONE]":
                            break
                        chunk = json.loads(data)
                        piece = "".join(c.get("text") or "" for c in chunk.get("choices", []))
                        if piece:
                            if not text and on_token is not None:
                                first = self.tokenizer.encode(piece, add_special_tokens=False).ids
                                with lock:
                                    on_token(index, first[0] if first else 0)
                            text.append(piece)
                    else:
                        raise EndpointError(f"benchwright: POST {url}: the stream ended without `data: [DONE]` "
                                            f"after {len(text)} chunk(s); the server broke off the response")
                break
            except httpx.ConnectError as exc:
                if attempt == self.max_retries:
                    raise EndpointError(f"benchwright: POST {url}: {exc} (after {attempt + 1} tries)") from None
            except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                raise EndpointError(f"benchwright: POST {url}: the server broke off the response after {len(text)} "
                                    f"chunk(s) ({exc})") from None
            except httpx.TimeoutException as exc:
                raise EndpointError(f"benchwright: POST {url}: no {'first chunk' if not text else 'chunk'} within "
                                    f"the timeout ({exc!r})") from None
        ids = self.tokenizer.encode("".join(text), add_special_tokens=False).ids
        return np.asarray(ids, dtype=np.int32)

    def generate(self, prompts: Sequence[np.ndarray], max_new_tokens: int, on_token: OnToken | None = None
                 ) -> list[np.ndarray]:
        lock = threading.Lock()  # LoadGen's FirstTokenComplete from one thread at a time
        futures = [self._pool.submit(self._one, i, p, max_new_tokens, on_token, lock) for i, p in enumerate(prompts)]
        wait(futures)  # every request ends before the batch is answered: no first token may come after that
        errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            raise errors[0]
        return [f.result() for f in futures]

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.client.close()
