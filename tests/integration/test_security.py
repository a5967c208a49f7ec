"""What a caller of the HTTP API (not only the form) can do, tried as an attacker would against real servers: run
code, reach files outside the workspace, destroy data, read the API without a login, rebind DNS, flood uploads.
One test per hole; each states what the server must answer and checks that nothing happened."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from studio.core import presets
from studio.core.workspace import Workspace
from studio.train.demo import DEMO_MODEL, ensure_dataset
from studio.ui.form import values_of
from tests.conftest import ROOT, _free_port, start_server

from .helpers import cli

pytestmark = pytest.mark.integration
AUTH = ("ops", "s3cret-pass")
PAYLOAD = "import pathlib\npathlib.Path({marker!r}).write_text('ran')\nclass EvilTokenizer: pass\n"


def call(base: str, endpoint: str, *args: object, cookies: httpx.Cookies | None = None) -> str:
    """One API call as any script can make it: POST the values, read the event stream; returns the stream text."""
    with httpx.Client(base_url=base, cookies=cookies, timeout=120) as http:
        started = http.post(f"gradio_api/call/{endpoint}", json={"data": ["en", *args]})
        assert started.status_code == 200, started.text
        return http.get(f"gradio_api/call/{endpoint}/{started.json()['event_id']}").text


def session(base: str) -> Callable[..., str]:
    """A page session (Gradio checks dropdown values against the choices its session was shown): call(endpoint,
    *values) -> the answer, or the refusal's text."""
    from gradio_client import Client

    client = Client(base, verbose=False)

    def ask(endpoint: str, *args: object) -> str:
        try:
            return str(client.predict("en", *args, api_name=f"/{endpoint}"))
        except Exception as err:
            return str(err)
    return ask


def exporter(base: str) -> Callable[..., str]:
    """A page session that has loaded the Export tab's run and weights choices (Gradio checks values against
    the choices its session was shown), then calls Export; returns the answer or the refusal."""
    from gradio_client import Client

    client = Client(base, verbose=False)
    client.predict("en", None, api_name="/export_runs")
    client.predict("en", "tuned", api_name="/export_weights")

    def export(merged: bool, folder: str, replace: bool) -> str:
        try:
            return str(client.predict("en", "tuned", "final", "safetensors", merged, folder, replace,
                                      api_name="/export"))
        except Exception as err:  # a refusal arrives as the client's error carrying our sentence
            return str(err)
    return export


def values_of_names() -> tuple[str, ...]:
    from studio.core.config import FORM_FIELDS

    return FORM_FIELDS


def form(**changes: object) -> list[object]:
    cfg, _ = presets.from_preset("demo", changes)
    return values_of(cfg)


def upload(base: str, name: str, data: bytes, cookies: httpx.Cookies | None = None,
           headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{base}gradio_api/upload", files={"files": (name, data)}, cookies=cookies,
                      headers=headers, timeout=60)


def evil_model(folder: Path, demo: Path, auto_map: str, model_type: str = "llama") -> None:
    """A model folder whose tokenizer_config.json maps AutoTokenizer to `auto_map` (code to import)."""
    shutil.copytree(demo, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": model_type}))
    tok = json.loads((folder / "tokenizer_config.json").read_text())
    tok["auto_map"] = {"AutoTokenizer": [auto_map, None]}
    (folder / "tokenizer_config.json").write_text(json.dumps(tok))


def fresh_workspace(root: Path, demo_model: Path) -> Workspace:
    ws = Workspace.at(root / "workspace")
    ensure_dataset(ws)
    shutil.copytree(demo_model, ws.root / DEMO_MODEL)
    return ws


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory, demo_model: Path) -> Iterator[tuple[str, Workspace, Path]]:
    """The default server (loopback, no login, no remote code) with one trained run to export."""
    outside = tmp_path_factory.mktemp("outside")
    ws = fresh_workspace(tmp_path_factory.mktemp("sec"), demo_model)
    (ws.root / "run.yaml").write_text("run_name: tuned\nmax_steps: 2\nworst_rows: 0\n", encoding="utf-8")
    done = cli("--workspace", str(ws.root), "train", str(ws.root / "run.yaml"), "--preset", "demo")
    assert done.returncode == 0, done.stderr[-2000:]
    proc, url = start_server(ws)
    yield url, ws, outside
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def guarded_server(tmp_path_factory: pytest.TempPathFactory,
                   demo_model: Path) -> Iterator[tuple[str, Workspace, Path, float]]:
    """A server as an operator exposes it: login, remote code allowed, a small upload limit, a named host; started
    with both cores busy and with an export left half-done by a crash. Yields (url, ws, outside, start seconds)."""
    outside = tmp_path_factory.mktemp("outside-guarded")
    ws = fresh_workspace(tmp_path_factory.mktemp("sec-guarded"), demo_model)
    leftovers = ws.exports_dir
    for name in (".half.partial-1", ".kept.old-2", ".done.old-3", "done"):
        (leftovers / name).mkdir(parents=True)
        (leftovers / name / "model.safetensors").write_text(name)
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        started = time.monotonic()
        proc, url = start_server(ws, extra=("--auth", ":".join(AUTH), "--trust-remote-code", "--max-upload", "1MB",
                                            "--allowed-host", "studio.lan"), wait_s=120)
        took = time.monotonic() - started
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    yield url, ws, outside, took
    proc.terminate()
    proc.wait(timeout=10)


@functools.cache  # one session per server: the failed-login test locks the address out afterwards
def login(url: str) -> httpx.Cookies:
    answer = httpx.post(f"{url}login", data={"username": AUTH[0], "password": AUTH[1]}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.cookies


# 1. Code runs in the server process
def test_no_model_code_runs_from_a_browser(open_server: tuple[str, Workspace, Path], demo_model: Path) -> None:
    url, ws, outside = open_server
    marker = outside / "pwned"
    stored = upload(url, "evil_tok.py", PAYLOAD.format(marker=str(marker)).encode())
    assert stored.status_code == 200, stored.text
    code_dir = Path(stored.json()[0]).parent
    assert ws.uploads_dir.resolve() in code_dir.resolve().parents  # Gradio's temp files live in the workspace
    # the model folder an attacker assembles next to the upload, and one an operator placed in models/
    evil_model(code_dir / "model", demo_model, f"{code_dir}--evil_tok.EvilTokenizer", model_type="evil")
    evil_model(ws.models_dir / "custom", demo_model, "evil_tok.EvilTokenizer", model_type="evil")
    shutil.copy(code_dir / "evil_tok.py", ws.models_dir / "custom" / "evil_tok.py")
    # trust_remote_code is no field of the form: a value sent in its old place changes nothing
    answers = [
        call(url, "train_start", "demo", *form(model_name_or_path="models/custom"), True),
        call(url, "train_start", "demo", *form(model_name_or_path=str(code_dir / "model"))),
        call(url, "train_start", "demo", *form(model_name_or_path="models/custom")),
        call(url, "learned", "demo_identity", 1, "models/custom", "chatml", 1024, False),
        call(url, "inspect", "demo_identity", "models/custom"),
        call(url, "chat_load", "model", None, None, "models/custom", "", "chatml", "transformers"),
    ]
    assert "a model must be a folder under models/" in answers[1]
    for answer in answers[:1] + answers[2:]:
        assert "running model code is off" in answer, answer[-400:]
    assert not marker.exists() and not list(ws.runs_dir.glob("*evil*"))


def test_remote_code_allowed_only_inside_the_model_folder(guarded_server: tuple[str, Workspace, Path, float],
                                                          demo_model: Path) -> None:
    url, ws, outside, _ = guarded_server
    cookies = login(url)
    marker = outside / "pwned"
    stored = upload(url, "evil_tok.py", PAYLOAD.format(marker=str(marker)).encode(), cookies=cookies)
    code_dir = Path(stored.json()[0]).parent
    evil_model(ws.models_dir / "elsewhere", demo_model, f"{code_dir}--evil_tok.EvilTokenizer", model_type="evil")
    answer = call(url, "train_start", "demo", *form(model_name_or_path="models/elsewhere"), cookies=cookies)
    assert "names code outside the model folder" in answer, answer[-400:]
    answer = call(url, "learned", "demo_identity", 1, "models/elsewhere", "chatml", 1024, False, cookies=cookies)
    assert "names code outside the model folder" in answer, answer[-400:]
    assert not marker.exists()


# 2. Training from any folder on the host
def test_models_come_only_from_the_model_folders(open_server: tuple[str, Workspace, Path]) -> None:
    url, ws, outside = open_server
    shutil.copytree(ws.root / DEMO_MODEL, outside / "host-model")
    (ws.models_dir / "link").symlink_to(outside / "host-model")
    for model in (str(outside / "host-model"), "models/link", "data", "../../" + str(outside / "host-model")):
        answer = call(url, "train_start", "demo", *form(model_name_or_path=model, run_name="escaped"))
        assert "a model must be a folder under models/" in answer, (model, answer[-400:])
        answer = call(url, "chat_load", "model", None, None, model, "", "chatml", "transformers")
        assert "a model must be a folder under models/" in answer, (model, answer[-400:])
    assert not (ws.runs_dir / "escaped").exists()
    assert "models/link" not in ws.local_models() and DEMO_MODEL in ws.local_models()
    assert "models/link" not in call(url, "on_load")  # the Train tab's choices


# 3. Export with Replace deletes the workspace
def test_export_writes_only_under_exports(open_server: tuple[str, Workspace, Path]) -> None:
    url, ws, _ = open_server
    export = exporter(url)
    before = {p: p.stat().st_mtime_ns for p in (*ws.data_dir.rglob("*"), ws.root / DEMO_MODEL / "config.json",
                                                ws.runs_dir / "tuned" / "config.yaml")}
    for folder in (".", "..", "runs/tuned", "/tmp/x", "exports/../data", "exports", "exports/a/b", "../models"):
        answer = export(True, folder, True)
        assert "exports are written under" in answer, (folder, answer[-300:])
    assert {p: p.stat().st_mtime_ns for p in before} == before  # everything still there, untouched
    registry = ws.registry_file.read_bytes()
    assert "vllm serve" in export(False, "data", True)  # a plain name is a folder under exports/
    assert (ws.exports_dir / "data" / "adapter_config.json").exists() and ws.registry_file.read_bytes() == registry
    (ws.exports_dir / "mine").mkdir(parents=True)
    (ws.exports_dir / "mine" / "notes.txt").write_text("keep me")
    answer = export(True, "exports/mine", True)
    assert "was not written by an export" in answer and (ws.exports_dir / "mine" / "notes.txt").exists()
    for _ in range(2):  # the second one replaces the first: an export may replace an export
        answer = export(False, "exports/ok", True)
        assert "Exported to" in answer or "vllm serve" in answer, answer[-400:]
    assert (ws.exports_dir / "ok" / "adapter_model.safetensors").exists()
    assert not [p for p in ws.exports_dir.iterdir() if p.name.startswith(".")]


# 4. Registry entries read any file
def test_registry_entries_stay_in_the_data_folder(open_server: tuple[str, Workspace, Path]) -> None:
    url, ws, outside = open_server
    secret = outside / "secret.jsonl"
    secret.write_text(json.dumps({"instruction": "TOP-SECRET", "output": "x"}) + "\n")
    (ws.data_dir / "sub").mkdir()
    (ws.data_dir / "sub" / "link.jsonl").symlink_to(secret)
    registry = json.loads(ws.registry_file.read_text())
    registry.update({"abs": {"file_name": str(secret)}, "climb": {"file_name": os.path.relpath(secret.parent / "x", ws.data_dir)},
                     "link": {"file_name": "sub/link.jsonl"}})
    (secret.parent / "x").write_text(secret.read_text())
    ws.registry_file.write_text(json.dumps(registry))
    page = session(url)
    listed = page("refresh", None)
    assert listed.count("outside the data folder") >= 3, listed[-600:]
    for name in ("abs", "climb", "link"):
        for answer in (page("describe", name), page("inspect", name, ""),
                       call(url, "train_start", "demo", *form(dataset=name))):
            assert "TOP-SECRET" not in answer
            assert "lies outside the data folder" in answer or "outside the data folder" in answer, answer[-300:]
    assert not list(ws.runs_dir.glob("*-abs")) and not list(ws.runs_dir.glob("*-link"))


def test_file_values_must_be_uploads_and_data_folders_hold_no_way_out(open_server: tuple[str, Workspace, Path]) -> None:
    """A file input's path names only what the server received; a data sub-folder with a symlink out is refused."""
    url, ws, outside = open_server
    secret = outside / "copied.json"
    secret.write_text('[{"instruction": "TOP-SECRET", "output": "x"}]')
    for path in (str(secret), "/dev/zero", "/etc/hostname"):
        answer = call(url, "uploaded", {"path": path, "meta": {"_type": "gradio.FileData"}})
        assert "event: error" in answer and "TOP-SECRET" not in answer, answer[-300:]
    assert not (ws.data_dir / "copied.json").exists() and not list(ws.uploads_dir.rglob("copied.json"))
    (ws.data_dir / "folder").mkdir()
    (ws.data_dir / "folder" / "a.json").symlink_to(secret)
    answer = call(url, "detect", "folder/")
    assert "must be inside the data folder" in answer and "TOP-SECRET" not in answer


@pytest.mark.bad_input
def test_values_no_widget_could_send_are_sentences(open_server: tuple[str, Workspace, Path]) -> None:
    url, ws, _ = open_server
    started = time.monotonic()
    huge = form(num_machines=2, main_process_ip="10.0.0.1")
    huge[list(values_of_names()).index("num_machines")] = 1e308
    answer = call(url, "on_change", *huge)
    assert time.monotonic() - started < 30 and "num_machines" in answer, answer[-300:]
    answer = call(url, "train_start", "demo", *form(num_machines=2, machine_rank=1, main_process_ip="10.0.0.1",
                                                    run_name="joiner"))
    assert "machine_rank: 1 is refused from the page" in answer and not (ws.runs_dir / "joiner").exists()
    answer = call(url, "train_start", "demo", *form(num_machines=2, main_process_ip="x;rm -rf /"))
    assert "is not a host name or an IP address" in answer
    answer = call(url, "chat_send", "hello", [], "", None, 64, "zzz", 1, 50, 1, 0)
    assert "temperature" in answer and "Internal error" not in answer, answer[-300:]
    assert httpx.get(url, timeout=10).status_code == 200


# 5. Login page leaks the API; 10. weak logins
def test_login_page_shows_nothing_but_the_form(guarded_server: tuple[str, Workspace, Path, float]) -> None:
    url, ws, _, _ = guarded_server
    page = httpx.get(url, timeout=30)
    assert page.status_code == 200 and len(page.text) < 5000
    for secret in ("train_start", "chat_load", "demo_identity", DEMO_MODEL, "dataset_info", str(ws.root)):
        assert secret not in page.text
    for path in ("config", "gradio_api/info", "gradio_api/openapi.json", "theme.css", "gradio_api/call/describe"):
        answer = httpx.get(f"{url}{path}", timeout=30)
        assert answer.status_code == 401 and "demo_identity" not in answer.text, path
    assert httpx.post(f"{url}gradio_api/call/describe", json={"data": ["en", "demo_identity"]}).status_code == 401
    full = httpx.get(url, cookies=login(url), timeout=30)
    assert "train_start" in full.text and "demo_identity" in full.text


def test_weak_auth_refused_and_failed_logins_wait(guarded_server: tuple[str, Workspace, Path, float],
                                                  tmp_path: Path) -> None:
    url, _, _, _ = guarded_server
    for weak in (":", "user:", ":pass", "nocolon"):
        done = subprocess.run([sys.executable, "app.py", "--workspace", str(tmp_path / "w"), "--port",
                               str(_free_port()), "--host", "0.0.0.0", "--auth", weak], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and "USER:PASS" in done.stderr and "Traceback" not in done.stderr
    codes = [httpx.post(f"{url}login", data={"username": AUTH[0], "password": f"guess{i}"}).status_code
             for i in range(11)]
    assert codes[:10] == [401] * 10 and codes[10] == 429
    waiting = httpx.post(f"{url}login", data={"username": AUTH[0], "password": AUTH[1]})
    assert waiting.status_code == 429 and "try again in" in waiting.json()["error"]
    forwarded = httpx.post(f"{url}login", data={"username": AUTH[0], "password": AUTH[1]},
                           headers={"X-Forwarded-For": "10.0.0.99"})
    assert forwarded.status_code == 429  # a header a caller writes does not choose the address counted


# 6. DNS rebinding / foreign Host
def test_foreign_host_and_origin_get_403(open_server: tuple[str, Workspace, Path],
                                         guarded_server: tuple[str, Workspace, Path, float]) -> None:
    url, _, _ = open_server
    for path in ("", "config", "gradio_api/info"):
        assert httpx.get(f"{url}{path}", headers={"Host": "evil.example"}).status_code == 403
    rebinding = httpx.post(f"{url}gradio_api/call/describe", json={"data": ["en", "demo_identity"]},
                           headers={"Host": "evil.example:7860"})
    assert rebinding.status_code == 403 and "--allowed-host" in rebinding.text
    assert httpx.get(url, headers={"Host": "localhost"}).status_code == 200
    foreign = httpx.post(f"{url}gradio_api/call/describe", json={"data": ["en", "demo_identity"]},
                         headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403
    port = url.rstrip("/").rsplit(":", 1)[1]
    other_port = httpx.options(f"{url}gradio_api/call/chat_load", headers={
        "Origin": "http://localhost:9999", "Host": f"localhost:{port}", "Access-Control-Request-Method": "POST"})
    assert other_port.status_code == 403 and "access-control-allow-origin" not in other_port.headers
    default_port = httpx.get(f"{url}gradio_api/info", headers={"Host": "localhost", "Origin": "http://localhost:9999"})
    assert default_port.status_code == 403  # a page reached on port 80 (no port in Host) is still one origin
    own = httpx.post(f"{url}gradio_api/call/describe", json={"data": ["en", "demo_identity"]},
                     headers={"Origin": f"http://127.0.0.1:{port}"})
    assert own.status_code == 200
    named, *_ = guarded_server
    assert httpx.get(named, headers={"Host": "studio.lan:80"}).status_code == 200  # --allowed-host


# 7. Uploads without limit
def test_uploads_are_limited_same_origin_and_kept_in_the_workspace(
        guarded_server: tuple[str, Workspace, Path, float]) -> None:
    url, ws, _, _ = guarded_server
    cookies = login(url)
    before = sorted(ws.uploads_dir.rglob("*"))
    big = upload(url, "big.jsonl", b"x" * (2 * 2**20), cookies=cookies)
    assert big.status_code == 413 and "at most 1 MiB" in big.json()["error"]
    cross = upload(url, "x.jsonl", b"{}\n", cookies=cookies, headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    def chunks() -> Iterator[bytes]:  # no Content-Length: the body is counted as it arrives
        boundary = b"--x\r\nContent-Disposition: form-data; name=\"files\"; filename=\"c.jsonl\"\r\n\r\n"
        yield boundary
        for _ in range(40):
            yield b"y" * 65536
        yield b"\r\n--x--\r\n"
    chunked = httpx.post(f"{url}gradio_api/upload", content=chunks(), cookies=cookies,
                         headers={"Content-Type": "multipart/form-data; boundary=x"}, timeout=60)
    assert chunked.status_code == 413
    partial = [p for p in ws.uploads_dir.rglob("*") if p.is_file() and p not in before]
    assert not [p for p in partial if p.name == "c.jsonl"]  # the parser's spool stops at the limit, is never kept
    assert sum(p.stat().st_size for p in partial) <= 2**20 + 2 * 65536
    ok = upload(url, "small.jsonl", b'{"instruction": "a", "output": "b"}\n', cookies=cookies)
    assert ok.status_code == 200 and ws.uploads_dir.resolve() in Path(ok.json()[0]).resolve().parents
    moved = call(url, "uploaded", {"path": ok.json()[0], "meta": {"_type": "gradio.FileData"}}, cookies=cookies)
    assert "small.jsonl" in moved and (ws.data_dir / "small.jsonl").exists() and not Path(ok.json()[0]).exists()


# 8. Half-finished exports stay forever
def test_start_up_finishes_interrupted_exports(guarded_server: tuple[str, Workspace, Path, float]) -> None:
    _, ws, _, _ = guarded_server
    names = sorted(p.name for p in ws.exports_dir.iterdir() if not p.name.startswith("elsewhere"))
    assert names == ["done", "kept"]  # half-written gone, the replaced one back, the superseded one gone
    assert (ws.exports_dir / "kept" / "model.safetensors").read_text() == ".kept.old-2"
    assert (ws.exports_dir / "done" / "model.safetensors").read_text() == "done"


# 9. Bad values reach Python
@pytest.mark.bad_input
def test_bad_values_are_one_sentence(open_server: tuple[str, Workspace, Path]) -> None:
    url, ws, _ = open_server
    registry = ws.registry_file.read_bytes()
    cases = [
        (call(url, "detect", "a\x00b.json"), "control characters"),
        (call(url, "detect", "x" * 5000), "too long"),
        (call(url, "train_start", "demo", *form(run_name="r" * 300)), "not a usable name"),
        (call(url, "train_start", "demo", *form(run_name="a\x00b")), "run_name"),
        (exporter(url)(True, "exports/" + "e" * 300, False), "not a usable name"),
        (call(url, "chat_load", "model", None, None, "m" * 5000, "", "chatml", "transformers"), "too long"),
        (call(url, "describe"), "input values"),  # Gradio's own refusal, passed on as its sentence
    ]
    for bad, sentence in (("a/b", "not a usable name"), ("..", "not a usable name"), ("x\x00y", "control char"),
                          ("n" * 5000, "too long"), (".hidden", "not a usable name"), ("-flag", "not a usable name")):
        cases.append((call(url, "do_save", bad, False, "demo_identity.json", "alpaca", *[None] * 20, []), sentence))
    for answer, sentence in cases:
        assert sentence in answer and '"error": null' not in answer, answer[-400:]
        assert "Internal error" not in answer
    assert ws.registry_file.read_bytes() == registry
    assert "embedded null byte" not in (ws.root / "server.log").read_text()


# 11. Pickle-only models caught late
def test_pickle_only_model_refused_before_launch(open_server: tuple[str, Workspace, Path]) -> None:
    url, ws, _ = open_server
    folder = ws.models_dir / "pickled"
    shutil.copytree(ws.root / DEMO_MODEL, folder)
    for weights in folder.glob("*.safetensors"):
        weights.unlink()
    (folder / "pytorch_model.bin").write_bytes(b"not loaded")
    answer = call(url, "train_start", "demo", *form(model_name_or_path="models/pickled", run_name="pickled"))
    assert "no .safetensors weights" in answer and not (ws.runs_dir / "pickled").exists()
    (ws.root / "p.yaml").write_text("model_name_or_path: models/pickled\n")
    done = cli("--workspace", str(ws.root), "validate", str(ws.root / "p.yaml"), "--preset", "demo")
    assert done.returncode == 2 and "no .safetensors weights" in done.stdout + done.stderr


# 12. Start-up fails under load
def test_starts_under_load_and_names_a_busy_port(guarded_server: tuple[str, Workspace, Path, float],
                                                 tmp_path: Path) -> None:
    url, _, _, took = guarded_server
    assert took < 120  # it answered although both cores were busy
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    done = subprocess.run([sys.executable, "app.py", "--workspace", str(tmp_path / "w"), "--port", str(port)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    assert done.returncode == 2 and f"Cannot listen on 127.0.0.1:{port}" in done.stderr
