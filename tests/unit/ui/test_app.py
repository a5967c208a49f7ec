import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[3]


@pytest.mark.bad_input
def test_app_refuses_network_bind_without_login(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "app.py", "--host", "0.0.0.0", "--workspace", str(tmp_path / "ws")],
                            cwd=ROOT, capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 2
    assert "Binding to 0.0.0.0 exposes the studio to the network" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.bad_input
def test_app_refuses_malformed_auth(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "app.py", "--auth", "nocolon", "--lang", "zh",
                             "--workspace", str(tmp_path / "ws")], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and "用户名:密码" in result.stderr
