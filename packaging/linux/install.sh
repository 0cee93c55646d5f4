#!/bin/sh
# Install ResNet Desktop from this unpacked .tar.gz for the current user (no root needed):
#   the bundle      -> ${XDG_DATA_HOME:-~/.local/share}/resnet-desktop/
#   the command     -> ~/.local/bin/resnet-desktop (a symlink into the bundle; a file or other
#                      link already there, such as pip's or pipx's resnet-desktop, is kept)
#   the menu entry  -> ${XDG_DATA_HOME:-~/.local/share}/applications/resnet-desktop.desktop
#   the icon        -> ${XDG_DATA_HOME:-~/.local/share}/icons/hicolor/512x512/apps/
# ./install.sh --uninstall removes all of them (the command only if it is this app's link).
set -eu
HERE="$(cd "$(dirname "$0")" && pwd)"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
APP_DIR="$DATA/resnet-desktop"
LINK="$HOME/.local/bin/resnet-desktop"
DESKTOP_FILE="$DATA/applications/resnet-desktop.desktop"
ICON_FILE="$DATA/icons/hicolor/512x512/apps/resnet-desktop.png"
# Where earlier versions put the (512 px) icon.
OLD_ICON_FILE="$DATA/icons/hicolor/256x256/apps/resnet-desktop.png"

# True when $LINK is a symbolic link into the installed bundle: only then is it ours to
# replace or remove.
link_is_ours() {
  [ -L "$LINK" ] || return 1
  case "$(readlink "$LINK")" in
    "$APP_DIR"/*) return 0 ;;
    *) return 1 ;;
  esac
}

# Menus and file managers read caches of .desktop files and icons; refresh the ones present.
refresh_caches() {
  if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database "$DATA/applications" >/dev/null 2>&1 || true
  fi
  if [ -f "$DATA/icons/hicolor/icon-theme.cache" ] && command -v gtk-update-icon-cache >/dev/null 2>&1; then
    gtk-update-icon-cache -q -t "$DATA/icons/hicolor" >/dev/null 2>&1 || true
  fi
}

if [ "${1:-}" = "--uninstall" ]; then
  if link_is_ours; then
    rm -f "$LINK"
  elif [ -e "$LINK" ] || [ -L "$LINK" ]; then
    echo "note: $LINK is not ResNet Desktop's link (pip or pipx?); it is kept." >&2
  fi
  rm -rf "$APP_DIR"
  rm -f "$DESKTOP_FILE" "$ICON_FILE" "$OLD_ICON_FILE"
  refresh_caches
  echo "ResNet Desktop removed (your settings and downloaded models are kept)."
  exit 0
fi

if [ ! -x "$HERE/resnet-desktop/resnet-desktop" ]; then
  echo "install.sh: run it from the unpacked archive (resnet-desktop/ is missing here)" >&2
  exit 1
fi
mkdir -p "$APP_DIR" "$(dirname "$LINK")" "$(dirname "$DESKTOP_FILE")" "$(dirname "$ICON_FILE")"
rm -rf "$APP_DIR.new"
cp -a "$HERE/resnet-desktop" "$APP_DIR.new"
rm -rf "$APP_DIR"
mv "$APP_DIR.new" "$APP_DIR"
run_as="resnet-desktop"
if link_is_ours || { [ ! -e "$LINK" ] && [ ! -L "$LINK" ]; }; then
  ln -sfn "$APP_DIR/resnet-desktop" "$LINK"
else
  run_as="$APP_DIR/resnet-desktop"
  echo "note: $LINK already exists and is not ResNet Desktop's link (pip or pipx may have put" >&2
  echo "      the app's own command there); it is kept. Run this installation as $run_as" >&2
fi
# The menu entry names the executable by its full path: ~/.local/bin is not on every PATH.
sed -e "s|^Exec=.*|Exec=\"$APP_DIR/resnet-desktop\" %F|" \
    -e "s|^TryExec=.*|TryExec=$APP_DIR/resnet-desktop|" \
    "$HERE/resnet-desktop.desktop" > "$DESKTOP_FILE"
rm -f "$OLD_ICON_FILE"
if [ -f "$HERE/resnet-desktop.png" ]; then
  cp "$HERE/resnet-desktop.png" "$ICON_FILE"
fi
refresh_caches
echo "ResNet Desktop installed: run '$run_as' or open it from the applications menu."
# With a display, the self-test starts Qt's xcb platform for real and names the package to
# install when a library is missing (libxcb-cursor0 above all); --version loads no Qt at all.
if [ -n "${DISPLAY:-}" ]; then
  if ! report="$("$APP_DIR/resnet-desktop" --self-test 2>&1)"; then
    echo "warning: the installed app's self-test failed:" >&2
    printf '%s\n' "$report" | grep '^FAIL' >&2 || printf '%s\n' "$report" >&2
  fi
elif ! "$APP_DIR/resnet-desktop" --version >/dev/null 2>&1; then
  echo "warning: the app did not start; see README-linux.txt (libxcb-cursor0)" >&2
fi
