"""What a script (not the page) can send to the server's HTTP API: traversal through every endpoint that takes a
path, malformed values, and launch requests outside the schema. Each is one sentence; the server stays up; no
user file changes; no process starts with arguments a caller chose."""

from __future__ import annotations

import hashlib
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.core import presets
from studio.core.workspace import Workspace
from studio.train.demo import DEMO_MODEL, ensure_dataset
from studio.ui.form import values_of
from tests.conftest import start_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, demo_model: Path) -> Iterator[tuple[str, Workspace]]:
    """One server for every request of this module: each case must leave it serving for the next."""
    ws = Workspace.at(tmp_path_factory.mktemp("http") / "workspace")
    ensure_dataset(ws)
    shutil.copytree(demo_model, ws.root / DEMO_MODEL)
    proc, url = start_server(ws)
    yield url, ws
    proc.terminate()
    proc.wait(timeout=10)


def _fingerprint(ws: Workspace) -> dict[str, str]:
    return {str(p.relative_to(ws.root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(ws.data_dir.rglob("*")) if p.is_file()}


def _form(**changes: object) -> list[object]:
    cfg, _ = presets.from_preset("demo", changes)
    return values_of(cfg)


def _evaluate(source: str = "run", run: str | None = None, weights: list[str] | None = None, on: str = "",
              limit: int = 10, model: str = "", adapter: str = "", sql: str = "") -> list[object]:
    """The Evaluate tab's Start, in its argument order."""
    return [source, run, weights or [], True, on, limit, 64, 8, 0.0, 1.0, sql, 5.0, model, adapter, "chatml"]


CHAT = ["run", None, None, "", "", "chatml", "transformers"]  # source, run, weights, model, adapter, template, backend
CASES = [
    ("/detect", ["../../../etc/passwd"], "must be inside the data folder"),
    ("/detect", ["/etc/passwd"], "must be inside the data folder"),
    ("/detect", ["no-such-file.jsonl"], "not found"),
    ("/describe", ["no such dataset"], "no such dataset"),
    ("/inspect", ["no such dataset", "models/demo-tiny"], "no such dataset"),
    ("/inspect", ["demo_identity", "../../../etc"], "a model must be a folder under models/"),
    ("/chat_load", ["model", None, None, "../../../etc", "", "chatml", "transformers"], "a model must be a folder under models/"),
    ("/chat_load", ["model", None, None, "/etc", "", "chatml", "transformers"], "a model must be a folder under models/"),
    ("/chat_load", ["model", None, None, "models/demo-tiny", "/tmp", "chatml", "transformers"], "a model must be a folder under models/"),
    ("/chat_load", ["model", None, None, "", "", "chatml", "transformers"], "give a model folder"),
    ("/chat_load", ["run", "no-such-run", "final", "", "", "chatml", "transformers"], "no-such-run"),
    ("/chat_load", ["run", None, None, "", "", "chatml", "unsloth"], "choose a run"),
    ("/chat_load", ["model", None, None, "models/demo-tiny", "", "chatml", "unsloth"], "unsloth needs"),
    ("/chat_send", ["hello", [], "", None, 64, 0, 1, 50, 1, 0], "No model is loaded"),
    ("/export", ["no-such-run", "final", "safetensors", True, "exports/x", False], "no-such-run"),
    ("/export", [None, None, "safetensors", True, "", False], "Choose a run first"),
    ("/export", ["no-such-run", "final", "f16", True, "exports/x", False], "no-such-run"),
    ("/propose", ["../../../etc"], "a model must be a folder under models/"),
    ("/learned", ["demo_identity", 1, "/etc", "chatml", 1024, False], "a model must be a folder under models/"),
    ("/train_start", ["demo", *_form(run_name="../escape")], "run_name"),
    ("/train_start", ["demo", *_form(run_name="a/b")], "run_name"),
    ("/train_start", ["demo", *_form(model_name_or_path="--help")], "model_name_or_path"),
    ("/train_start", ["demo", *_form(dataset="no_such_dataset")], "no_such_dataset"),
    ("/train_start", ["demo", *_form(learning_rate=-1.0)], "learning_rate"),
    ("/train_start", ["demo", *_form(per_device_train_batch_size=0)], "per_device_train_batch_size"),
    ("/train_start", ["demo", *_form(cache_dir="/tmp/elsewhere")], "cache_dir"),
    ("/train_start", ["demo", *_form(adapter_name_or_path="/etc")], "a model must be a folder under models/"),
    ("/eval_start", _evaluate(run="../escape"), "not in the list of choices"),  # lists are this session's own
    ("/eval_start", _evaluate(run=None, weights=["final; rm -rf /"]), "not in the list of choices"),
    ("/eval_start", _evaluate(run=None), "choose a dataset to evaluate on"),
    ("/eval_start", _evaluate(source="model", model="/etc"), "a model must be a folder under"),
    ("/eval_start", _evaluate(source="model", model="models/demo-tiny", adapter="/tmp"),
     "a model must be a folder under"),
    ("/eval_start", _evaluate(source="model", model="models/demo-tiny", sql="/etc"), "outside the workspace"),
    ("/eval_start", _evaluate(source="model", model="models/demo-tiny", limit=-5), "max_samples"),
]


@pytest.mark.bad_input
@pytest.mark.parametrize(("endpoint", "args", "sentence"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_http_bad_input_is_one_sentence(served: tuple[str, Workspace], endpoint: str, args: list[object],
                                        sentence: str) -> None:
    from gradio_client import Client

    server, ws = served
    before = _fingerprint(ws)
    client = Client(server, verbose=False)
    try:
        result = client.predict("en", *args, api_name=endpoint)
        text = str(result)
    except Exception as err:  # a gr.Error reaches the client as an error carrying our sentence
        text = str(err)
    assert sentence in text, text[:500]
    assert "Traceback" not in text and "Internal error" not in text
    assert _fingerprint(ws) == before  # no user file touched
    assert not any(p.name in ("escape", "a", "b") for p in ws.runs_dir.iterdir())  # no run was created
    assert urllib.request.urlopen(server, timeout=5).status == 200  # still serving


def test_http_launch_runs_only_the_schema(served: tuple[str, Workspace]) -> None:
    """Whatever the caller sends, the worker's argv is fixed; every value travels in the validated config.yaml."""
    from gradio_client import Client

    server, ws = served
    client = Client(server, verbose=False)
    client.predict("en", "demo", *_form(run_name="probe", max_steps=2, worst_rows=0),
                   api_name="/train_start")
    run_dir = ws.runs_dir / "probe"
    command = (run_dir / "command.txt").read_text().split()
    assert command[1:] == ["-m", "studio.train", str(run_dir)]
    config = (run_dir / "config.yaml").read_text()
    assert "trust_remote_code: false" in config
