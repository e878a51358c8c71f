"""A small OpenAI-compatible completions server for the endpoint tests: a transformers LM folder served by
uvicorn on 127.0.0.1, streaming one server-sent event per generated token.

    python tests/endpoint_server.py --model DIR --port N [--mode ok|fail500|cut|silent] [--api-key-env VAR]

Modes that misbehave on purpose (for the SUT's error paths): ``fail500`` answers every completion with HTTP 500;
``cut`` sends two tokens and then drops the connection; ``silent`` accepts the request and sends nothing.
Nothing from benchwright is needed by a client; the model runs through benchwright's in-process generator.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import threading
import time

import numpy as np


def build_app(model_dir: str, mode: str, api_key: str | None):
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route
    from tokenizers import Tokenizer

    from benchwright.backends.generate import TransformersGenerator

    generator = TransformersGenerator(model_dir, threads=1)
    tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    name = os.path.basename(os.path.normpath(model_dir))
    lock = threading.Lock()  # one generation at a time: the model is not shared across threads

    def authorized(request: Request) -> bool:
        return api_key is None or request.headers.get("authorization") == f"Bearer {api_key}"

    async def models(request: Request):
        if not authorized(request):
            return JSONResponse({"error": {"message": "invalid API key"}}, status_code=401)
        return JSONResponse({"object": "list", "data": [{"id": name, "object": "model"}]},
                            headers={"server": "benchwright-test-endpoint/1"})

    async def completions(request: Request):
        if not authorized(request):
            return JSONResponse({"error": {"message": "invalid API key"}}, status_code=401)
        body = await request.json()
        if mode == "fail500":
            return JSONResponse({"error": {"message": "model crashed (test mode fail500)"}}, status_code=500)
        prompt = np.asarray(body["prompt"], dtype=np.int32)
        max_tokens = int(body.get("max_tokens", 16))

        def events():
            if mode == "silent":
                time.sleep(3600)
            tokens: queue.Queue = queue.Queue()

            def run() -> None:
                with lock:
                    generator.generate([prompt], max_tokens, lambda _, t: tokens.put(t))
                tokens.put(None)

            threading.Thread(target=run, daemon=True).start()
            ids: list[int] = []
            sent = ""
            while (token := tokens.get()) is not None:
                ids.append(token)
                text = tokenizer.decode(ids, skip_special_tokens=True)
                piece, sent = text[len(sent):], text
                chunk = {"id": "cmpl-test", "object": "text_completion", "model": name,
                         "choices": [{"index": 0, "text": piece, "finish_reason": None}]}
                yield f"data: {json.dumps(chunk)}\n\n"
                if mode == "cut" and len(ids) == 2:
                    raise ConnectionAbortedError("test mode cut: dropping the connection mid-stream")
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/models", models), Route("/v1/completions", completions, methods=["POST"])])


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", default="ok", choices=["ok", "fail500", "cut", "silent"])
    parser.add_argument("--api-key-env", default=None)
    args = parser.parse_args()
    key = os.environ[args.api_key_env] if args.api_key_env else None
    uvicorn.run(build_app(args.model, args.mode, key), host="127.0.0.1", port=args.port, log_level="warning",
                server_header=False)


if __name__ == "__main__":
    main()
