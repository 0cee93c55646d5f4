#!/usr/bin/env bash
# CI smoke test of the frozen Linux app. In a FRESH virtual environment (only what
# pyproject.toml declares, plus PyInstaller) it builds the bundle and the .tar.gz with
# packaging/build.py, then runs the frozen app:
#   1. --self-test (Qt offscreen, ONNX Runtime, Qt Multimedia, the bundled tiny model);
#   2. --screenshot with the real model from ../shared/models on a real photo (scikit-image's
#      coffee.png from the repository's .venv), skipped with the reason when either is absent.
# It prints the bundle's size and fails if the self-test or the screenshot fails or the bundle
# is over 400 MB unpacked (bundle_rules.SIZE_LIMIT_MB).
#
#   bash packaging/ci_smoke.sh
# Environment: PYTHON (default python3), RESNET_DESKTOP_SHARED (default ../shared),
# SMOKE_DIR (work folder; default a new one under /tmp, removed at the end unless SMOKE_KEEP=1).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
LIMIT_MB=400
PYTHON="${PYTHON:-python3}"
SHARED="${RESNET_DESKTOP_SHARED:-$ROOT/../shared}"
MODEL="$SHARED/models/efficientnet-lite0.onnx"
started=$(date +%s)

say() { echo "ci_smoke: $*"; }
elapsed() { echo "$(( $(date +%s) - started )) s"; }

if [ -n "${SMOKE_DIR:-}" ]; then
  WORK="$SMOKE_DIR"
  mkdir -p "$WORK"
else
  WORK="$(mktemp -d /tmp/resnet-desktop-smoke.XXXXXX)"
fi
cleanup() {
  if [ "${SMOKE_KEEP:-0}" != 1 ] && [ -z "${SMOKE_DIR:-}" ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

# PyInstaller bundles the build machine's copies of the X11/Wayland libraries Qt's platform
# plugins link; without these the bundle lacks them and the window needs them on the user's
# machine. Installed when missing and possible; the build goes on either way.
BUNDLED_SYSTEM_LIBS="libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 \
libxcb-render-util0 libxkbcommon-x11-0 libwayland-cursor0 libwayland-egl1"
missing=""
for pkg in $BUNDLED_SYSTEM_LIBS; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ] && command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo -n"; fi
  say "installing$missing"
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      $SUDO apt-get install -y -qq --no-install-recommends $missing; } >/dev/null 2>&1 \
    || say "could not install$missing; the bundle will need them on the user's machine"
fi

# pip builds the wheel in the tree; setuptools' scratch folders from an earlier build could
# carry deleted modules into it.
rm -rf build/lib build/bdist.*
say "fresh virtual environment in $WORK/venv"
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install -q ".[packaging]" \
  2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
say "installed ($(elapsed))"

"$WORK/venv/bin/python" packaging/build.py --clean --dist "$WORK/dist" --work "$WORK/build"
BUNDLE="$WORK/dist/resnet-desktop"
APP="$BUNDLE/resnet-desktop"
say "built ($(elapsed))"

failures=()
size_bytes=$(du -sb "$BUNDLE" | cut -f1)
size_mb=$(( size_bytes / 1000000 ))
tarball=$(ls "$WORK"/dist/resnet-desktop-*-linux-*.tar.gz 2>/dev/null | head -n 1 || true)
say "bundle size: ${size_mb} MB unpacked (limit ${LIMIT_MB} MB)"
if [ -n "$tarball" ]; then
  say "archive: $(basename "$tarball") $(( $(stat -c %s "$tarball") / 1000000 )) MB"
else
  failures+=("no .tar.gz was made")
fi
if [ "$size_mb" -gt "$LIMIT_MB" ]; then
  failures+=("bundle is ${size_mb} MB, over the ${LIMIT_MB} MB limit")
fi

licence_dir="$BUNDLE/_internal/licences"
if [ -f "$licence_dir/LICENSE" ] && [ -f "$licence_dir/THIRD-PARTY.txt" ] \
    && ls "$licence_dir"/PySide6_Essentials-*/LGPL-3.0.txt "$licence_dir"/onnxruntime-*/onnxruntime/ThirdPartyNotices.txt \
      "$licence_dir"/pi_heif-*/licenses/LICENSES_bundled.txt "$licence_dir"/Python-*/* \
      "$licence_dir"/native/FFmpeg/LGPL-2.1.txt "$licence_dir"/native/ICU/ICU.txt >/dev/null 2>&1; then
  say "licences: $(( $(ls "$licence_dir" | wc -l) - 3 )) bundled distributions with Python," \
      "$(ls "$licence_dir/native" | wc -l) native components, and the app's own"
else
  failures+=("the bundle lacks its licence texts in _internal/licences")
fi

# The frozen app must not touch the CI user's cache, models or settings.
export RESNET_DESKTOP_CACHE="$WORK/appdirs/cache" RESNET_DESKTOP_DATA="$WORK/appdirs/data"
export RESNET_DESKTOP_SETTINGS="$WORK/appdirs/settings" QT_QPA_PLATFORM=offscreen
export QT_LOGGING_RULES="qt.multimedia.*=false"

say "frozen --self-test"
if "$APP" --self-test --self-test-report "$WORK/self-test.txt"; then
  say "self-test passed"
else
  failures+=("the frozen --self-test failed (report above)")
fi

photo=$(ls "$ROOT"/.venv/lib/python3*/site-packages/skimage/data/coffee.png 2>/dev/null \
        | head -n 1 || true)
if [ ! -f "$MODEL" ]; then
  say "SKIPPED frozen --screenshot: the real model is not at $MODEL (set RESNET_DESKTOP_SHARED)"
elif [ -z "$photo" ]; then
  say "SKIPPED frozen --screenshot: no real photo (scikit-image's coffee.png is not in $ROOT/.venv)"
else
  shot="$WORK/screenshot.png"
  say "frozen --screenshot: $(basename "$MODEL") on $(basename "$photo")"
  if timeout 180 "$APP" --model "$MODEL" --image "$photo" --screenshot "$shot" \
      && [ "$(head -c 8 "$shot" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
    say "screenshot written: $(stat -c %s "$shot") bytes"
  else
    failures+=("the frozen --screenshot failed or wrote no PNG")
  fi
fi

say "took $(elapsed)"
if [ "${#failures[@]}" -gt 0 ]; then
  for failure in "${failures[@]}"; do say "FAILED: $failure"; done
  exit 1
fi
say "passed (bundle ${size_mb} MB)"
