#!/usr/bin/env bash
# Installs what aigw needs, builds it, and starts it in the foreground with
# config/aigw.yaml (or the file given as the first argument). Ctrl-C drains and stops.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build.sh
exec build/aigw --config "${1:-config/aigw.yaml}"
