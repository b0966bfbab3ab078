#!/usr/bin/env bash
# OpenLLMetry 0.54 (`opentelemetry-instrumentation-openai`, the last release writing the flattened
# `gen_ai.prompt.N.*` attributes) for tests/test_traces_dataset.py. The dev extra holds 0.62 of
# the same package, so 0.54 goes to a directory of its own (--target, no dependencies: what it
# needs is in the venv already); the test runs it in a subprocess with that directory first on
# PYTHONPATH. Idempotent: installs only when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

OPENLLMETRY_LEGACY_VERSION=0.54.0
TARGET=.ci/otel-legacy

if [ ! -f "${TARGET}/opentelemetry_instrumentation_openai-${OPENLLMETRY_LEGACY_VERSION}.dist-info/METADATA" ]; then
    rm -rf "${TARGET}"
    .venv/bin/python -m pip install --quiet --no-deps --target "${TARGET}" \
        "opentelemetry-instrumentation-openai==${OPENLLMETRY_LEGACY_VERSION}"
fi
