#!/bin/sh
# Install ResNet Desktop from this unpacked .tar.gz for the current user (no root needed):
#   the bundle      -> ${XDG_DATA_HOME:-~/.local/share}/resnet-desktop/
#   the command     -> ~/.local/bin/resnet-desktop (a symlink)
#   the menu entry  -> ${XDG_DATA_HOME:-~/.local/share}/applications/resnet-desktop.desktop
#   the icon        -> ${XDG_DATA_HOME:-~/.local/share}/icons/hicolor/256x256/apps/
# ./install.sh --uninstall removes all of them.
set -eu
HERE="$(cd "$(dirname "$0")" && pwd)"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
APP_DIR="$DATA/resnet-desktop"
BIN_DIR="$HOME/.local/bin"
DESKTOP_FILE="$DATA/applications/resnet-desktop.desktop"
ICON_FILE="$DATA/icons/hicolor/256x256/apps/resnet-desktop.png"

if [ "${1:-}" = "--uninstall" ]; then
  rm -rf "$APP_DIR"
  rm -f "$BIN_DIR/resnet-desktop" "$DESKTOP_FILE" "$ICON_FILE"
  echo "ResNet Desktop removed (your settings and downloaded models are kept)."
  exit 0
fi

if [ ! -x "$HERE/resnet-desktop/resnet-desktop" ]; then
  echo "install.sh: run it from the unpacked archive (resnet-desktop/ is missing here)" >&2
  exit 1
fi
mkdir -p "$APP_DIR" "$BIN_DIR" "$(dirname "$DESKTOP_FILE")" "$(dirname "$ICON_FILE")"
rm -rf "$APP_DIR.new"
cp -a "$HERE/resnet-desktop" "$APP_DIR.new"
rm -rf "$APP_DIR"
mv "$APP_DIR.new" "$APP_DIR"
ln -sf "$APP_DIR/resnet-desktop" "$BIN_DIR/resnet-desktop"
# The menu entry names the executable by its full path: ~/.local/bin is not on every PATH.
sed -e "s|^Exec=.*|Exec=\"$APP_DIR/resnet-desktop\" %F|" \
    -e "s|^TryExec=.*|TryExec=$APP_DIR/resnet-desktop|" \
    "$HERE/resnet-desktop.desktop" > "$DESKTOP_FILE"
if [ -f "$HERE/resnet-desktop.png" ]; then
  cp "$HERE/resnet-desktop.png" "$ICON_FILE"
fi
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$DATA/applications" || true
echo "ResNet Desktop installed: run 'resnet-desktop' or open it from the applications menu."
if ! "$APP_DIR/resnet-desktop" --version >/dev/null 2>&1; then
  echo "warning: the app did not start; see README-linux.txt (libxcb-cursor0)" >&2
fi
