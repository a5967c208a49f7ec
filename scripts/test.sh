#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian/Ubuntu machine with Python 3.11, then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False PIP_DISABLE_PIP_VERSION_CHECK=1
# tests, servers and workers share two cores: OpenMP threads that sleep while waiting (studio/core/machine.py)
export OMP_WAIT_POLICY=PASSIVE
if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi wqy \
    || ! ldconfig -p 2>/dev/null | grep -q tcmalloc_minimal; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-wqy-zenhei libtcmalloc-minimal4 >/dev/null
fi
python -m pip install -q -r requirements-test.txt
ruff check studio app.py tests bench
python -m pytest -q -n 2 --dist loadfile "$@"
