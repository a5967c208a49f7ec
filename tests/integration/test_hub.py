"""The hub side against a local server that answers the way the Hugging Face hub does (tests/integration/fakehub.py),
with the real huggingface_hub client in the studio's own command line: a download with byte progress that survives
a connection cut mid-file (ranged retry) and checks hashes; refusals (404, pickle-only, offline, a damaged file)
as one sentence; the cache listed and deleted from; an export pushed with the token from the environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from studio.core.workspace import Workspace
from studio.train.demo import DEMO_MODEL

from .fakehub import FakeHub
from .helpers import ROOT

pytestmark = pytest.mark.integration
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json",
               "chat_template.jinja")


@pytest.fixture
def hub(tmp_path: Path, ws: Workspace) -> Iterator[FakeHub]:
    server = FakeHub(tmp_path / "hub")
    tiny = server.root / "acme" / "tiny"
    tiny.mkdir(parents=True)
    for name in MODEL_FILES:
        shutil.copy2(ws.root / DEMO_MODEL / name, tiny / name)
    big = server.root / "acme" / "big"
    big.mkdir(parents=True)
    shutil.copy2(ws.root / DEMO_MODEL / "config.json", big / "config.json")
    save_file({"w": torch.arange(6 * 2**20, dtype=torch.float32)}, big / "model.safetensors")  # 24 MiB
    pickles = server.root / "acme" / "pickles"
    pickles.mkdir(parents=True)
    shutil.copy2(ws.root / DEMO_MODEL / "config.json", pickles / "config.json")
    (pickles / "pytorch_model.bin").write_bytes(b"\x80\x04" + os.urandom(4000))
    server.start()
    yield server
    server.stop()


def studio(ws: Workspace, hub: FakeHub, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_TOKEN")}
    environ.update({"PYTHONPATH": str(ROOT), "HF_ENDPOINT": hub.url, **env})
    return subprocess.run([sys.executable, "-m", "studio", "--workspace", str(ws.root), *args], cwd=ROOT,
                          env=environ, capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)


def test_download_list_and_delete(ws: Workspace, hub: FakeHub) -> None:
    done = studio(ws, hub, "models", "download", "acme/tiny")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "acme/tiny: 6 files" in done.stderr and "is in the cache" in done.stderr and "hashes checked" in done.stderr
    assert "MiB/s" in done.stderr  # the byte progress line
    snapshot = Path(done.stdout.strip().splitlines()[-1])
    assert sorted(p.name for p in snapshot.iterdir()) == sorted(MODEL_FILES)
    listed = studio(ws, hub, "models", "list").stdout
    line = next(row for row in listed.splitlines() if row.startswith("acme/tiny"))
    assert line.split()[1:] == ["cache", line.split()[2], "llama", "0.63M", "yes", "yes", "no"]
    again = studio(ws, hub, "models", "download", "acme/tiny")  # everything cached: no file is fetched again
    assert again.returncode == 0
    assert [r for r in hub.requests if r[0] == "GET" and "/resolve/" in r[1]].__len__() == len(MODEL_FILES)
    assert ws.cached_models() == ["acme/tiny"]  # the Train form offers it beside models/
    cfg = ws.root / "hub.yaml"
    cfg.write_text("run_name: onhub\nmodel_name_or_path: acme/tiny\nmax_steps: 5\nworst_rows: 0\n", encoding="utf-8")
    trained = studio(ws, hub, "train", str(cfg), "--preset", "demo", HF_HUB_OFFLINE="1")
    assert trained.returncode == 0, trained.stderr[-2000:]
    for extra in (("--gguf", "f16"), ("--merge",)):  # the export finds the base in the cache, offline
        exported = studio(ws, hub, "export", "--run", "onhub", *extra, "--out", f"exports/onhub{extra[0]}",
                          HF_HUB_OFFLINE="1")
        assert exported.returncode == 0, exported.stderr[-2000:]
    readme = (ws.root / "exports/onhub--gguf/README.md").read_text(encoding="utf-8")
    assert str(ws.root) not in readme and "base model `acme/tiny`" in readme  # no server paths travel with it
    refused = studio(ws, hub, "models", "delete", "acme/tiny")  # no terminal to confirm on: refused
    assert refused.returncode == 2 and "type its id again" in refused.stderr
    deleted = studio(ws, hub, "models", "delete", "acme/tiny", "--yes")
    assert deleted.returncode == 0 and "Deleted acme/tiny from the cache" in deleted.stderr
    assert "acme/tiny" not in studio(ws, hub, "models", "list").stdout


def test_a_cut_mid_file_is_taken_up_with_a_range_and_checked(ws: Workspace, hub: FakeHub) -> None:
    hub.cut_after("model.safetensors", 12 * 2**20)  # mid-file (the studio has the client read 1 MiB at a time)
    done = studio(ws, hub, "models", "download", "acme/big")
    assert done.returncode == 0, done.stderr[-2000:]
    gets = [r[2].get("range") for r in hub.requests if r[0] == "GET" and r[1].endswith("/model.safetensors")]
    assert gets[0] is None and gets[1] == f"bytes={12 * 2**20}-", gets  # the retry asked only for the rest
    assert "hashes checked" in done.stderr


def test_refusals_are_one_sentence(ws: Workspace, hub: FakeHub) -> None:
    missing = studio(ws, hub, "models", "download", "acme/nothing")
    assert missing.returncode == 2 and f"acme/nothing does not exist on {hub.url}" in missing.stderr
    pickles = studio(ws, hub, "models", "download", "acme/pickles")
    assert pickles.returncode == 2 and "has only pickle weights (pytorch_model.bin)" in pickles.stderr
    offline = studio(ws, hub, "models", "download", "acme/tiny", HF_HUB_OFFLINE="1")
    assert offline.returncode == 2 and "HF_HUB_OFFLINE is set" in offline.stderr
    bad_id = studio(ws, hub, "models", "download", "../etc")
    assert bad_id.returncode == 2 and "is not a hub model id" in bad_id.stderr
    for odd in ("acme/x..y", "acme/b--c", "acme/tiny."):  # the hub client's own rule, said as ours
        assert "is not a hub model id" in studio(ws, hub, "models", "download", odd).stderr
    hub.fake_sha = "../../../../../../tmp/PWN_REF"  # a hostile endpoint: its revision would become a cache path
    hostile = studio(ws, hub, "models", "download", "acme/tiny")
    assert hostile.returncode == 2 and "answered with a revision or file name that is not one" in hostile.stderr
    assert not Path("/tmp/PWN_REF").exists()
    hub.fake_sha = None
    hub.corrupt.add("model.safetensors")
    damaged = studio(ws, hub, "models", "download", "acme/tiny")
    assert damaged.returncode == 2 and "model.safetensors arrived damaged" in damaged.stderr
    for result in (missing, pickles, offline, bad_id, damaged, hostile):
        assert "Traceback" not in result.stderr
    cache = Path(os.environ["HF_HOME"]) / "hub"
    blobs = [p for p in cache.rglob("*") if p.is_file() and p.stat().st_size > 1_000_000]
    assert not blobs  # nothing of a refused or damaged download stays behind
    unreachable = studio(ws, hub, "models", "download", "acme/tiny", HF_ENDPOINT="http://127.0.0.1:9")
    assert unreachable.returncode == 2 and "cannot be reached from this machine" in unreachable.stderr


def test_push_an_export_with_the_token_from_the_environment(ws: Workspace, hub: FakeHub) -> None:
    export = ws.root / "exports" / "tiny-f16"
    export.mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        shutil.copy2(ws.root / DEMO_MODEL / name, export / name)
    (export / "README.md").write_text("# tiny\n", encoding="utf-8")  # the client checks a README before a commit
    (export / ".studio-export").write_text("{}\n", encoding="utf-8")
    outside = ws.root.parent / "secret.txt"
    outside.write_text("not for the hub", encoding="utf-8")
    (export / "leak.txt").symlink_to(outside)
    linked = studio(ws, hub, "models", "push", "exports/tiny-f16", "--repo", "me/tiny", HF_TOKEN="hf_test")
    assert linked.returncode == 2 and "holds a symbolic link (leak.txt)" in linked.stderr
    (export / "leak.txt").unlink()
    no_token = studio(ws, hub, "models", "push", "exports/tiny-f16", "--repo", "me/tiny")
    assert no_token.returncode == 2 and "set HF_TOKEN in the environment" in no_token.stderr
    done = studio(ws, hub, "models", "push", "exports/tiny-f16", "--repo", "me/tiny", "--private",
                  HF_TOKEN="hf_test")
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"Pushed {export} to me/tiny: {hub.url}/me/tiny/commit/" in done.stderr
    assert sorted(p.name for p in (hub.root / "me" / "tiny").iterdir()) == ["README.md", "config.json",
                                                                             "model.safetensors", "tokenizer.json"]
    assert "me/tiny" in hub.private
    posts = [r for r in hub.requests if r[0] == "POST"]
    assert posts and all(r[2].get("authorization") == "Bearer hf_test" for r in posts)
    assert not any("hf_test" in p.read_text(errors="ignore") for p in ws.root.rglob("*.log"))


def test_a_cache_entry_its_owner_broke_shows_as_unknown(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """A downloaded repository's files are its owner's: a config that is not an object, a header that is not
    safetensors, a dangling link still list (as unknown) instead of breaking the Models tab."""
    from studio.model import hub

    cache = Path(os.environ["HF_HOME"]) / "hub"
    for repo, files in {"odd/list": {"config.json": "[1, 2]"}, "odd/header": {"model.safetensors": "garbage"}}.items():
        snapshot = cache / f"models--{repo.replace('/', '--')}" / "snapshots" / ("a" * 40)
        snapshot.mkdir(parents=True)
        for name, text in files.items():
            (snapshot / name).write_text(text, encoding="utf-8")
    dangling = cache / "models--odd--link" / "snapshots" / ("b" * 40)
    dangling.mkdir(parents=True)
    (dangling / "model.safetensors").symlink_to(cache / "nowhere")
    rows = {m.name: m for m in hub.list_models(ws)}
    assert {"odd/list", "odd/header", "odd/link", "models/demo-tiny"} <= set(rows)
    assert rows["odd/list"].arch == "?" and rows["odd/header"].params == 0 and not rows["odd/link"].safetensors
