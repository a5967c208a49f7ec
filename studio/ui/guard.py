"""The fence in front of every HTTP request: Host and Origin checks, the login (with a limit on failed tries),
the upload size. Plain ASGI, so it sees each request before Gradio does, whatever route it names."""

from __future__ import annotations

import collections
import json
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from studio.core.messages import render

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
UPLOAD_PATHS = ("/gradio_api/upload", "/upload")
MAX_FAILS, FAIL_WINDOW_S = 10, 60.0
MAX_TRACKED = 10_000  # addresses with recent failed logins kept in memory
LOGIN_BODY_LIMIT = 64 * 1024
BODY_LIMIT = 16 * 2**20  # any other request body (API calls carry text and settings, never files)
LOGIN_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Fine-tuning studio · 微调工作室</title>
<style>body{font-family:system-ui,"WenQuanYi Zen Hei",sans-serif;background:#f5f6f8;display:flex;justify-content:center;
padding-top:12vh}form{background:#fff;padding:2em 2.4em;border-radius:10px;box-shadow:0 2px 12px #0002;width:20em}
label{display:block;margin:.8em 0 .3em}input{width:100%;padding:.5em;box-sizing:border-box}button{margin-top:1.2em;
width:100%;padding:.6em;background:#ea580c;color:#fff;border:0;border-radius:6px;font-size:1em}#msg{color:#b91c1c;
min-height:1.4em;margin-top:.8em}</style></head><body><form id="login"><h2>Fine-tuning studio · 微调工作室</h2>
<label for="u">User · 用户名</label><input id="u" name="username" autocomplete="username" required>
<label for="p">Password · 密码</label><input id="p" name="password" type="password" autocomplete="current-password"
required><button type="submit">Log in · 登录</button><div id="msg"></div></form><script>
document.getElementById("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  const r = await fetch("login", {method: "POST", body: new URLSearchParams(new FormData(e.target))});
  if (r.ok) { location.reload(); return; }
  document.getElementById("msg").textContent = (await r.json()).error;
});</script></body></html>"""


def host_name(value: str) -> str:
    """The name in a Host header or an Origin URL, without port or IPv6 brackets, lower-cased."""
    if "//" in value:
        return (urlsplit(value).hostname or "").lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0].lower()
    return value.rsplit(":", 1)[0].lower() if value.count(":") == 1 else value.lower()


def host_port(value: str) -> int | None:
    """The explicit port of a Host header or an Origin URL (the scheme's default for an origin), else None."""
    try:
        if "//" in value:
            parts = urlsplit(value)
            return parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        tail = value.rsplit("]", 1)[-1] if value.startswith("[") else value
        return int(tail.rsplit(":", 1)[1]) if ":" in tail else None
    except ValueError:
        return None


def parse_size(text: str) -> int:
    """'2GB', '500MB', '10kb' or a byte count -> bytes."""
    units = {"": 1, "B": 1, "KB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40}
    cleaned = text.strip().upper().replace(" ", "")
    digits = cleaned.rstrip("KMGTB")
    unit = cleaned[len(digits):]
    if not digits.isdigit() or unit not in units:
        raise ValueError(text)
    return int(digits) * units[unit]


def _lang(headers: dict[str, str]) -> str:
    return "zh" if headers.get("accept-language", "").lower().startswith("zh") else "en"


async def _respond(send: Send, status: int, body: str, kind: str = "application/json",
                   extra: list[tuple[bytes, bytes]] | None = None) -> None:
    data = body.encode("utf-8")
    headers = [(b"content-type", f"{kind}; charset=utf-8".encode()), (b"content-length", str(len(data)).encode()),
               (b"cache-control", b"no-store"), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def _error(key: str, lang: str, **fields: object) -> str:
    return json.dumps({"error": render(key, lang, **fields)}, ensure_ascii=False)


@dataclass
class Guard:
    """Wraps the app: foreign Host or Origin -> 403; no session (when a login is set) -> the login page or 401;
    an upload over the limit -> 413. Sessions live in memory: a restarted server asks for the login again."""
    app: ASGIApp
    allowed_hosts: frozenset[str]
    auth: tuple[str, str] | None = None
    max_upload: int = 2 * 2**30
    cookie: str = "studio-session"
    sessions: set[str] = field(default_factory=set)
    failures: dict[str, collections.deque[float]] = field(default_factory=dict)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        lang, refusal = _lang(headers), self._refusal(scope, headers)
        if refusal is not None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            else:
                await _respond(send, refusal[0], refusal[1])
            return
        path, method = scope.get("path", ""), scope.get("method", "GET")
        if self.auth is not None:
            if path.rstrip("/") == "/login" and method == "POST":
                await self._login(scope, receive, send, headers)
                return
            if path.rstrip("/") == "/logout":
                self.sessions.discard(self._token(headers))
                await _respond(send, 303, "", "text/plain", [(b"location", b"./"), self._set_cookie("", 0)])
                return
            if self._token(headers) not in self.sessions:
                if scope["type"] == "http" and path == "/" and method in ("GET", "HEAD"):
                    await _respond(send, 200, LOGIN_PAGE, "text/html")
                elif scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                else:
                    await _respond(send, 401, _error("server.login_first", lang))
                return
        if scope["type"] == "http" and method in ("POST", "PUT", "PATCH"):
            upload = path.rstrip("/").endswith(UPLOAD_PATHS)
            limit, key = (self.max_upload, "server.too_large") if upload else (BODY_LIMIT, "server.body_too_large")
            size = int(headers.get("content-length", "0") or 0) if headers.get("content-length", "").isdigit() else 0
            if size > limit:
                await _respond(send, 413, _error(key, lang, size=_mib(size), limit=_mib(limit)))
                return
            await self._limited(scope, receive, send, limit, lang, key)
            return
        await self.app(scope, receive, send)

    async def _limited(self, scope: Scope, receive: Receive, send: Send, limit: int, lang: str, key: str) -> None:
        """Count the body as it arrives (chunked uploads have no Content-Length): past the limit the caller gets
        413 and the app sees a disconnect; whatever the app still sends is dropped."""
        seen, refused = 0, False

        async def counted() -> MutableMapping[str, Any]:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    await _respond(send, 413, _error(key, lang, size=f"> {_mib(limit)}", limit=_mib(limit)))
                    return {"type": "http.disconnect"}
            return message

        async def passed(message: MutableMapping[str, Any]) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counted, passed)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str] | None:
        """DNS rebinding sends a foreign Host; a hostile page sends its own Origin: both are refused."""
        lang = _lang(headers)
        host = host_name(headers.get("host", ""))
        allowed = ", ".join(sorted(self.allowed_hosts))
        if host not in self.allowed_hosts:
            return 403, _error("server.bad_host", lang, allowed=allowed, host=host or "?")
        origin = headers.get("origin")
        if origin is not None:  # the page's own origin only: another port on the same host is another site
            port = host_port(headers.get("host", ""))  # none: the page is on a default port (80, or 443 by a proxy)
            same_port = host_port(origin) in ((80, 443) if port is None else (port,))
            if host_name(origin) not in self.allowed_hosts or not same_port:
                return 403, _error("server.bad_origin", lang, origin=origin[:200])
        return None

    def _token(self, headers: dict[str, str]) -> str:
        for part in headers.get("cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == self.cookie:
                return value
        return ""

    def _set_cookie(self, value: str, max_age: int) -> tuple[bytes, bytes]:
        return (b"set-cookie", f"{self.cookie}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}".encode())

    async def _login(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
        lang, client = _lang(headers), (scope.get("client") or ("?", 0))[0]
        now = time.monotonic()
        if len(self.failures) > MAX_TRACKED:  # forget addresses whose failures have all expired
            self.failures = {k: v for k, v in self.failures.items() if v and now - v[-1] <= FAIL_WINDOW_S}
        recent = self.failures.setdefault(client, collections.deque())
        while recent and now - recent[0] > FAIL_WINDOW_S:
            recent.popleft()
        if len(recent) >= MAX_FAILS:
            wait = int(FAIL_WINDOW_S - (now - recent[0])) + 1
            await _respond(send, 429, _error("server.login_wait", lang, seconds=wait),
                           extra=[(b"retry-after", str(wait).encode())])
            return
        body = await _read_body(receive, LOGIN_BODY_LIMIT)
        form = parse_qs(body.decode("utf-8", "replace")) if body is not None else {}
        user, password = form.get("username", [""])[0], form.get("password", [""])[0]
        if self.auth is None:
            return
        good = secrets.compare_digest(user.encode(), self.auth[0].encode()) & secrets.compare_digest(
            password.encode(), self.auth[1].encode())
        if not good:
            recent.append(now)
            await _respond(send, 401, _error("server.login_wrong", lang))
            return
        token = secrets.token_urlsafe(32)
        self.sessions.add(token)
        await _respond(send, 200, json.dumps({"success": True}), extra=[self._set_cookie(token, 30 * 86400)])


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _mib(size: int) -> str:
    return f"{size / 2**20:,.0f} MiB" if size >= 2**20 else f"{size:,} bytes"
