#!/usr/bin/env bash
# The consumers the export-target tests run, that `pip install -e '.[dev]'` cannot bring:
# - trl's wheel without its dependencies (its trainers pull torch): the tests read only the chat
#   templates it ships (trl/chat_templates/*.jinja) and its torch-free `trl.data_utils`;
# - LLaMA-Factory's wheel without its dependencies (torch, peft, …): the tests load its dataset
#   parser, converter and formatters, which need none of them (tests/llamafactory_real.py);
# - promptfoo from npm into .ci/node (0.115: the last release line that runs on Node.js 20),
#   with no browser download, telemetry or update check.
# Idempotent: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

TRL_VERSION=1.16.0
LLAMAFACTORY_VERSION=0.9.5
PROMPTFOO_VERSION=0.115.0

# Installs `package==version` without dependencies unless that version is already there.
install_wheel_alone() {
    local installed
    installed=$(.venv/bin/python -c "import importlib.metadata as m
try: print(m.version('$1'))
except m.PackageNotFoundError: pass")
    if [ "$installed" != "$2" ]; then
        .venv/bin/python -m pip install --quiet --no-deps "$1==$2"
    fi
}
install_wheel_alone trl "${TRL_VERSION}"
install_wheel_alone llamafactory "${LLAMAFACTORY_VERSION}"

if [ ! -x .ci/node/node_modules/.bin/promptfoo ]; then
    mkdir -p .ci/node
    export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PUPPETEER_SKIP_DOWNLOAD=1
    export PROMPTFOO_DISABLE_TELEMETRY=1 PROMPTFOO_DISABLE_UPDATE=1
    npm install --prefix .ci/node --no-audit --no-fund --loglevel=error \
        "promptfoo@${PROMPTFOO_VERSION}"
fi
.ci/node/node_modules/.bin/promptfoo --version
