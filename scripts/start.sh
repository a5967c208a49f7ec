#!/usr/bin/env bash
# Installs the studio's requirements and starts it on http://127.0.0.1:7860 with the built-in demo.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -r requirements.txt
export GRADIO_ANALYTICS_ENABLED=False
exec python app.py "$@"
