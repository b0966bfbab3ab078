#!/usr/bin/env bash
# Debian's Chromium for tests/test_ui_browser.py. Playwright drives it through executable_path:
# `playwright install` downloads its own browser build, which nothing here may fetch.
# Idempotent: does nothing when /usr/bin/chromium is already there.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium
/usr/bin/chromium --version
