"""Serves the Blocks on our own uvicorn server behind the Guard: the socket is bound before anything else (a busy
port is one sentence), and no self-check over HTTP can time out and abort the start on a loaded machine."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import gradio as gr
import uvicorn
from fastapi import FastAPI

from studio.ui.guard import LOOPBACK_NAMES, Guard

log = logging.getLogger("studio.server")
WILDCARDS = ("0.0.0.0", "::", "")


def allowed_hosts(host: str, extra: list[str]) -> frozenset[str]:
    """The bound address, loopback names, the operator's --allowed-host names; on a wildcard bind also this
    machine's own name and addresses."""
    names = set(LOOPBACK_NAMES) | {host.lower()} | {h.strip().lower() for h in extra if h.strip()}
    if host in WILDCARDS:
        own = {socket.gethostname(), socket.getfqdn()}
        for name in list(own):
            try:
                own |= {info[4][0] for info in socket.getaddrinfo(name, None)}
            except OSError:
                pass
        names |= {n.lower() for n in own}
    return frozenset(n for n in names if n not in WILDCARDS)


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound now so that a port in use or a bad address is said before anything starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.set_inheritable(False)
    return sock


def serve(blocks: gr.Blocks, sock: socket.socket, *, host: str, port: int, hosts: frozenset[str],
          auth: tuple[str, str] | None, max_upload: int, css: Path) -> None:
    """Run until interrupted. show_error is on because every callback of ours goes through `guarded` (a sentence,
    or "internal error" with the traceback in the log): what it shows beyond ours is Gradio's own refusal of a
    request (wrong number or type of values), which would otherwise arrive as `error: null`."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app = gr.mount_gradio_app(app, blocks, path="/", server_name=host, server_port=port, css_paths=[css],
                              show_error=True, footer_links=[], max_file_size=max_upload, ssr_mode=False)
    # What launch() would set: with it, Gradio accepts a file path sent as an input value only when it lies in
    # its own upload folder; without it, a caller could name any file on the host and have it copied in.
    blocks.has_launched = True
    guarded = Guard(app, hosts, auth, max_upload, cookie=f"studio-session-{port}")
    # proxy_headers off: X-Forwarded-For from a caller must not choose the address failed logins are counted by
    config = uvicorn.Config(guarded, log_level="warning", timeout_graceful_shutdown=3, proxy_headers=False)
    shown = f"[{host}]" if ":" in host else host
    print(f"* Running on http://{shown}:{port} (hosts answered: {', '.join(sorted(hosts))})", flush=True)
    uvicorn.Server(config).run(sockets=[sock])
