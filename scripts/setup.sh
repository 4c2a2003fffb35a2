#!/usr/bin/env bash
# Set up everything dockwright needs on a Debian 12 host, as root:
#   system packages (Docker Engine, crun/runc, conmon, nftables, a local registry,
#   docker-compose for the benchmarks, busybox-static for test images, chromium and its
#   driver for the dashboard's browser tests), a Python venv
#   in .venv with dockwright installed, a running Docker daemon, and the examples'
#   busybox image archive. Safe to run again: every step checks before it acts.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(python3 python3-venv python3-pip git ca-certificates iproute2 nftables iptables
          docker.io crun runc conmon tini busybox-static docker-registry docker-compose procps
          netcat-openbsd curl chromium chromium-driver)

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python >= 3.11 with venv: Debian 12's python3 is 3.11.
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  log "creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -c "import controller.cli, pytest, hypothesis" 2>/dev/null \
   || [ pyproject.toml -nt .venv/.installed ]; then
  log "installing dockwright and its test tools into .venv"
  .venv/bin/pip install -q --upgrade pip >/dev/null
  .venv/bin/pip install -q -e '.[dev]'
  touch .venv/.installed
fi
# Byte-compile the project (an editable install leaves it to the first run, and never
# when PYTHONDONTWRITEBYTECODE is set): every CLI start-up then skips compiling.
.venv/bin/python -m compileall -q controller specs runtime >/dev/null

# The Docker daemon: start one when none answers (no systemd needed).
DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || DOCKER=docker
if ! "$DOCKER" info >/dev/null 2>&1; then
  log "starting dockerd (log: /var/log/dockwright-dockerd.log)"
  if command -v systemctl >/dev/null 2>&1 && systemctl start docker 2>/dev/null; then :; else
    nohup dockerd >/var/log/dockwright-dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 60); do "$DOCKER" info >/dev/null 2>&1 && break; sleep 0.5; done
  "$DOCKER" info >/dev/null 2>&1 || { log "dockerd did not start; see /var/log/dockwright-dockerd.log"; exit 1; }
fi

# The examples' image: a docker-save archive of Debian's busybox, made without Docker.
if [ ! -s examples/images/busybox.tar ] || [ scripts/make_busybox_archive.py -nt examples/images/busybox.tar ]; then
  log "building examples/images/busybox.tar from /bin/busybox"
  .venv/bin/python scripts/make_busybox_archive.py examples/images/busybox.tar
fi
log "ready: $(.venv/bin/dockwright --help >/dev/null && echo dockwright OK), $("$DOCKER" version -f 'docker {{.Server.Version}}')"
