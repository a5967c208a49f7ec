#!/usr/bin/env bash
# Installs the studio's requirements and starts it on http://127.0.0.1:7860 with the built-in demo.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -r requirements.txt
# tcmalloc lowers a training worker's peak memory by about a third on CPU; optional, so only tried as root
if ! ldconfig -p 2>/dev/null | grep -q tcmalloc_minimal && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libtcmalloc-minimal4) >/dev/null 2>&1 || true
fi
export GRADIO_ANALYTICS_ENABLED=False
exec python app.py "$@"
