#!/usr/bin/env bash
# Installs Debian's chromium for the real-browser widget tests (tests/browser/): Playwright cannot
# download its own browsers here. Needs root for apt; does nothing when /usr/bin/chromium exists.
# `.ci/run` runs it before the README's test command; by hand, run it once, then
# `pip install -e ".[notebook,test]"` installs JupyterLab, the widgets and Playwright.
set -euo pipefail

if [ ! -x /usr/bin/chromium ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
fi
/usr/bin/chromium --version 2>/dev/null
