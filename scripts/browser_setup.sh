#!/usr/bin/env bash
# Installs what the real-browser widget tests (pytest -m browser, tests/browser/) need:
# Debian's chromium (Playwright cannot download its own browsers here) and the Python packages
# that run JupyterLab, the widgets and Playwright. Safe to run twice; needs root for apt.
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
fi

python -m pip install -q "anywidget>=0.9" "ipywidgets>=8.1" "jupyterlab>=4.2" "ipykernel>=6.29" \
    "playwright>=1.45" "nbformat>=5.9" "nbclient>=0.10"

/usr/bin/chromium --version
python -c "import anywidget, jupyterlab, playwright; print('anywidget', anywidget.__version__, '| jupyterlab', jupyterlab.__version__)"
