#!/usr/bin/env bash
# Azurite, Microsoft's Azure Blob Storage emulator, from npm into .ci/azurite, for the tests that
# put the data directory on `az://` (tests/azurite_server.py starts and stops it on a loopback
# port). 3.35 is the last release line that runs on Node.js 20. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

AZURITE_VERSION=3.35.0

if [ ! -x .ci/azurite/node_modules/.bin/azurite-blob ]; then
    mkdir -p .ci/azurite
    npm install --prefix .ci/azurite --no-audit --no-fund --loglevel=error "azurite@${AZURITE_VERSION}"
fi
.ci/azurite/node_modules/.bin/azurite-blob --version
