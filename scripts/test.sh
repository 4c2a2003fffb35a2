#!/usr/bin/env bash
# Run the whole test suite (unit, golden, property, fuzz and the integration tests
# against the real Docker daemon, crun/runc and network namespaces) after setting
# up the host. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
