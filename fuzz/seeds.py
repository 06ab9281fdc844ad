#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ from the repository's own samples:
recorded provider streams (tests/fixtures/usage), shipped configs and the documentation's
YAML snippets, requests like the tests send. Run it again after adding fixtures; the files
are committed, and the fuzzers never write into this folder (scripts/fuzz.sh copies it).

Targets that cut their input into pieces (fuzz/pieces.hpp) read control bytes from the end of
the input, the way FuzzedDataProvider consumes integers: `control()` appends them."""

import hashlib
import json
import pathlib
import re
import shutil

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "usage"
OUT = ROOT / "fuzz" / "corpus"


def control(consumed):
    """Bytes to append so that FuzzedDataProvider consumes `consumed` (a list of (value,
    byte count) in the order the target reads them) from the end."""
    tail = []
    for value, size in consumed:
        tail += [(value >> (8 * (size - 1 - i))) & 0xFF for i in range(size)]
    return bytes(reversed(tail))


def cuts(payload, offsets):
    """take_pieces(): the number of cuts, then each cut's 16-bit offset."""
    return [(len(offsets), 1)] + [(o % (len(payload) + 1), 2) for o in offsets]


def write(target, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


def fixtures(pattern):
    return sorted(FIXTURES.glob(pattern))


FORMATS = [  # index in usage_parser_fuzz.cpp's kFormats, by fixture name prefix
    ("openai_completions", 1), ("openai_embeddings", 2), ("openai_responses", 3),
    ("anthropic", 4), ("gemini", 5), ("cohere", 6), ("workers_ai", 7), ("", 0),
]


def usage_format(name):
    return next(index for prefix, index in FORMATS if name.startswith(prefix))


def streams():
    for f in fixtures("*"):
        body = f.read_bytes()
        n = len(body)
        split = [n // 3, n // 2 + 1, n - 2]
        write("sse_splitter", body + control([(4096, 2)] + cuts(body, split)))
        write("sse_splitter", body[:600] + control([(64, 2)] + cuts(body[:600], [7, 100])))
        stream = 1 if f.suffix == ".sse" else 0
        write("usage_parser",
              body + control([(usage_format(f.name), 1), (stream, 1), (1, 1)] + cuts(body, split)))
        if stream:  # also sniffed, as a body without text/event-stream
            write("usage_parser",
                  body + control([(usage_format(f.name), 1), (0, 1), (0, 1)] + cuts(body, [5])))
        write("json", body)
    for f in fixtures("*include_usage*") + fixtures("*usage_on_last*") + fixtures("*plain*"):
        body = f.read_bytes()
        write("include_usage", body + control([(1, 1)] + cuts(body, [40, 41, len(body) // 2])))


REQUESTS = [
    {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": True},
    {"model": "gpt-4o-mini", "stream": True, "stream_options": None},
    {"model": "gpt-4o-mini", "stream": True, "stream_options": {"include_usage": False}},
    {"model": "gpt-4o-mini", "stream": True, "stream_options": {}},
    {"model": "gpt-4o-mini", "stream": True, "stream_options": {"include_usage": True}},
    {"model": "gpt-4o-mini", "stream": False},
    {"model": "claude-3-5-sonnet", "max_tokens": 64, "messages": [], "stream": True},
]


def requests():
    for r in REQUESTS:
        body = json.dumps(r, separators=(",", ":"))
        write("include_usage", body.encode() + control([(0, 1), (0, 1)]))
        write("json", body)
    spaced = '\ufeff { "stream" : true ,\n "stream_options" : { "x" : [1, 2.5e3, -0] } }'
    write("include_usage", spaced.encode() + control([(0, 1), (0, 1)]))
    for text in ['{"a":1,"a":2}', '"\\u00e9\\ud83d\\ude00\\n"', "[1.0,1e0,0.70,-0,1e400]",
                 "[[[[[[[[[[]]]]]]]]]]", '{"b":{"z":null,"a":[true,false]}}', " 12345678901234567890 "]:
        write("json", text)


UNIVERSAL = [
    [{"provider": "openai", "endpoint": "chat/completions",
      "headers": {"authorization": "Bearer sk-x", "content-type": "application/json"},
      "query": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}},
     {"provider": "anthropic", "endpoint": "v1/messages",
      "headers": {"x-api-key": "k", "anthropic-version": "2023-06-01", "cf-aig-max-attempts": "2"},
      "query": {"model": "claude", "max_tokens": 8, "messages": []},
      "config": {"maxAttempts": 3, "retryDelay": 100, "backoff": "linear", "requestTimeout": 5000}}],
    [{"provider": "workers-ai", "endpoint": "@cf/meta/llama-3.1-8b-instruct",
      "headers": {}, "query": {"prompt": "hi"}}],
    [{"provider": "azure-openai", "endpoint": "res/gpt-4o/chat/completions?api-version=2024-10-21",
      "headers": {"api-key": "k"}, "query": {"messages": []}}],
    [{"provider": "google-ai-studio", "endpoint": "v1beta/models/gemini-1.5-flash:generateContent",
      "query": {"contents": []}},
     {"provider": "custom-local", "endpoint": "/chat/completions", "query": {"stream": True}}],
    [{"provider": "aws-bedrock", "endpoint": "bedrock-runtime/us-east-1/model/x/invoke", "query": {}}],
    [{"provider": "openai", "endpoint": "../admin", "query": {}}],
]


def universal():
    for steps in UNIVERSAL:
        body = json.dumps(steps).encode()
        write("universal", body + control([(0, 1), (4, 1)]))
        write("universal", body + control([(1, 1), (19, 1)]))


def configs():
    for f in sorted((ROOT / "config").rglob("*.yaml")):
        write("config", f.read_bytes())
    for md in sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]:
        for block in re.findall(r"```yaml\n(.*?)```", md.read_text(), re.S):
            write("config", block)


ADMIN = [
    "/metrics", "/api/routes", "/api/logs", "/api/logs/id-0003", "/api/logs/nope",
    "/api/logs?limit=2", "/api/logs?limit=5&order=asc&cursor=", "/api/logs?status=429&success=false",
    "/api/logs?provider=openai&model=gpt-4o&cached=true",
    "/api/logs?metadata.key=user&metadata.value=alice", "/api/logs?metadata.key=user&metadata.value=42",
    "/api/logs?from=2023-11-14T22:13:20Z&to=1700100000000", "/api/logs?key=&from=2023-11-14T22:13:20.5Z",
    "/api/usage", "/api/usage?group_by=model&bucket=hour", "/api/usage?group_by=provider&bucket=day",
    "/api/usage?group_by=metadata.user&bucket=minute", "/api/usage?group_by=key&key=team-a",
    "/api/logs?model=gpt%2D4o+x&provider=%6fpenai", "/api/logs?limit=1001", "/api/logs?colour=red",
]


def admin():
    for target in ADMIN:
        write("admin_query", target)


def http(flags, text, split=None):
    data = text.encode() if isinstance(text, str) else text
    split = len(data) if split is None else split
    write("http_request", bytes([flags, split & 0xFF, split >> 8]) + data)


def http_requests():
    chat = json.dumps(REQUESTS[0], separators=(",", ":"))
    http(0, "GET /openai/models HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer sk-x\r\n\r\n")
    http(0, "POST /openai/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(chat)}\r\ncf-aig-cache-ttl: 60\r\ncf-aig-metadata: {{\"user\":\"a\"}}\r\n"
            f"\r\n{chat}")
    http(0, "POST /v1/acct/gw/openai/chat/completions HTTP/1.1\r\nHost: a\r\n"
            "Transfer-Encoding: chunked\r\ncf-aig-max-attempts: 2\r\ncf-aig-retry-delay: 0\r\n\r\n"
            f"{len(chat):x}\r\n{chat}\r\n0\r\n\r\n")
    http(0, "POST /anthropic/v1/messages HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5;name=value\r\nhello\r\n0\r\nx-trailer: 1\r\n\r\n")
    http(0, "POST /openai/chat/completions HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
            f"Content-Length: {len(chat)}\r\n\r\n{chat}")
    body = json.dumps(UNIVERSAL[0])
    http(0, f"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {len(body)}\r\n\r\n{body}")
    http(0, "GET /custom-local/x HTTP/1.0\r\n\r\nGET /openai/models HTTP/1.1\r\nHost: a\r\n"
            "Connection: close\r\n\r\n")
    http(0, "POST /openai/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\n{\"a\":1,}x")
    http(0, "GET /route/chat/chat/completions HTTP/1.1\r\nHost: a\r\ncf-aig-event-id: e-1\r\n\r\n")
    # With the repeat bit: a body past max_body_bytes (413), a header past max_header_bytes (431).
    head = "POST /openai/chat/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    http(1, head + "1\r\nx\r\n", len(head))
    head = "GET /openai/models HTTP/1.1\r\n"
    http(1, head + "X-Filler: 0123456789\r\n", len(head))


TRANSLATE = ROOT / "tests" / "fixtures" / "translate"
# translate_fuzz.cpp's kPairs index, by fixture folder: the provider's files for the first two
# (OpenAI client), the client's requests and the OpenAI provider's answers for the third.
PAIRS = {"anthropic": 0, "gemini": 1, "anthropic_inbound": 2}


def translate():
    for folder, pair in PAIRS.items():
        for f in sorted((TRANSLATE / folder).glob("*")):
            name = f.name
            if ".expected." in name or ".gemini." in name or ".openai." in name:
                continue  # translators' outputs, not inputs
            mode = {"request": 0, "response": 1, "error": 2, "stream": 3}.get(name.split("_")[0])
            if mode is None:
                continue
            body = f.read_bytes()
            n = len(body)
            write("translate", body + control([(mode, 1), (pair, 1), (1, 1)] +
                                              cuts(body, [n // 3, n // 2 + 1, n - 2])))
            if pair == 1 and mode != 0:  # Gemini's answers also reach an Anthropic client
                write("translate", body + control([(mode, 1), (3, 1), (0, 1)] + cuts(body, [9])))


def redis():
    """Server replies (RESP2, as src/redis reads them) and redis.url forms."""
    replies = [
        b"+OK\r\n", b"-ERR value is not an integer or out of range\r\n", b":42\r\n",
        b"$5\r\nhello\r\n", b"$-1\r\n", b"*-1\r\n", b"*0\r\n",
        b"*3\r\n$1\r\nk\r\n:42\r\n*2\r\n+a\r\n$0\r\n\r\n",
        b"+PONG\r\n$3\r\nyes\r\n:1\r\n-WRONGPASS invalid username-password pair\r\n",
        b"$5\r\na\x00b\r\n\r\n",
    ]
    for body in replies:
        n = len(body)
        write("redis", body + control([(0, 1)] + cuts(body, [1, n // 2, n - 1])))
    for url in ["redis://127.0.0.1:6379/2", "rediss://user:p%40ss@cache.internal:6380",
                "redis://:secret@[::1]:7000/15", "redis://host", "http://x"]:
        write("redis", url.encode() + control([(1, 1)] + cuts(url, [])))


def h2_frame(kind, flags, stream, payload=b""):
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


def h2_sessions():
    """A provider's side of an HTTP/2 connection carrying streams 1, 3 and 5 (h2_session)."""
    settings = h2_frame(4, 0, 0, (3).to_bytes(2, "big") + (100).to_bytes(4, "big"))
    ack = h2_frame(4, 1, 0)
    window = h2_frame(8, 0, 0, (1 << 20).to_bytes(4, "big")) + h2_frame(8, 0, 1, (1 << 20).to_bytes(4, "big"))
    # HPACK: :status 200 (static index 8), content-type: text/event-stream as a literal
    # with incremental indexing of static name 31, then again from the dynamic table (62).
    head = bytes([0x88, 0x5F, 0x11]) + b"text/event-stream"
    again = bytes([0x88, 0xBE])
    interim = bytes([0x48, 0x03]) + b"103"  # :status 103, literal with indexing of name 8
    event = b'data: {"choices":[{"delta":{"content":"hi"}}]}\n\n'
    answers = [
        settings + ack + window + h2_frame(1, 4, 1, head) + h2_frame(0, 0, 1, event)
        + h2_frame(1, 4, 3, again) + h2_frame(0, 1, 3, event) + h2_frame(0, 1, 1, b"data: [DONE]\n\n")
        + h2_frame(1, 5, 5, bytes([0x88])),
        settings + h2_frame(1, 4, 1, interim) + h2_frame(1, 5, 1, head)
        + h2_frame(3, 0, 3, (2).to_bytes(4, "big"))
        + h2_frame(7, 0, 0, (1).to_bytes(4, "big") + (0).to_bytes(4, "big")),
        settings + h2_frame(1, 4, 1, head) + h2_frame(1, 4, 1, bytes([0x40, 0x01]) + b"x" + bytes([0x7F, 0x80, 0x08]) + b"y" * 1152),
        settings + h2_frame(6, 0, 0, b"12345678") + h2_frame(1, 4, 1, head) + h2_frame(0, 0, 1, b"z" * 16384) * 5,
    ]
    for a in answers:
        write("h2_session", a + control(cuts(a, [9, len(a) // 2, len(a) - 3])))
        write("h2_session", a + control(cuts(a, [])))


def cache_entry(status=200, stored=1718000000123, content_type=b"application/json", headers=(),
                usage=None, translation=None, stream=False, body=b""):
    """A cache entry as src/stages/cache/entry_codec.hpp writes it (version 1)."""
    le = lambda v, n: v.to_bytes(n, "little")
    flags = (1 if stream else 0) | (2 if usage is not None else 0) | (4 if translation else 0)
    out = b"AGWC" + bytes([1, flags]) + le(status, 2) + le(stored, 8)
    out += le(len(content_type), 2) + content_type + le(len(headers), 2)
    for name, value in headers:
        out += le(len(name), 2) + name + le(len(value), 4) + value
    if usage is not None:
        model, counts = usage  # counts: five optional integers
        out += le(len(model), 2) + model
        out += bytes([sum(1 << i for i, c in enumerate(counts) if c is not None)])
        out += b"".join(le(c, 8) for c in counts if c is not None)
    if translation:
        out += bytes(translation)
    return out + le(len(body), 4) + body


def cache_entries():
    """Entries as the cache keeps them in Redis: buffered, streamed, translated, minimal."""
    write("cache_entry", cache_entry(
        headers=[(b"x-request-id", b"req_1"), (b"openai-processing-ms", b"42")],
        usage=(b"gpt-4o-mini", [12, 34, 0, None, None]), body=b'{"answer":1}'))
    stream = b"".join(f.read_bytes() for f in fixtures("openai_chat*.sse")[:1]) or \
        b'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\ndata: [DONE]\n\n'
    write("cache_entry", cache_entry(content_type=b"text/event-stream; charset=utf-8",
                                     headers=[(b"cache-control", b"no-cache")], stream=True,
                                     usage=(b"", [5, 2, None, 7, 1]), translation=(1, 0, 1),
                                     body=stream))
    write("cache_entry", cache_entry(status=204))
    write("cache_entry", cache_entry(translation=(2, 1, 0), headers=[(b"x-e", b"")], body=b"{}"))


def main():
    # Inputs that once found a bug (regression-*) are kept: they are not generated.
    kept = {}
    if OUT.exists():
        kept = {f.relative_to(OUT): f.read_bytes() for f in OUT.rglob("regression-*")}
        shutil.rmtree(OUT)
    for rel, data in kept.items():
        (OUT / rel).parent.mkdir(parents=True, exist_ok=True)
        (OUT / rel).write_bytes(data)
    streams()
    requests()
    universal()
    configs()
    admin()
    http_requests()
    translate()
    redis()
    cache_entries()
    h2_sessions()
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"seeds: {sum(1 for f in OUT.rglob('*') if f.is_file())} files, {total} bytes")


if __name__ == "__main__":
    main()
