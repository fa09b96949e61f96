#!/usr/bin/env bash
# Builds the .deb with cpack, inspects it with dpkg, unpacks it into a scratch root and runs the
# installed `panseg --version`. Used by ctest (installer_deb).
set -euo pipefail
BUILD="$1"; VERSION="$2"
cd "$BUILD"
rm -rf packages
cpack -G DEB >cpack.log 2>&1 || { cat cpack.log; exit 1; }
DEB=$(ls packages/*.deb | head -1)
echo "package: $DEB"
INFO=$(dpkg-deb -I "$DEB")
echo "$INFO" | grep -E "Package|Version|Depends"
echo "$INFO" | grep -q "Package: panseg-workstation" || { echo "FAIL: package name"; exit 1; }
echo "$INFO" | grep -q "Version: $VERSION" || { echo "FAIL: version"; exit 1; }
echo "$INFO" | grep -q "libqt6sql6-sqlite" || { echo "FAIL: missing runtime Qt SQL plugin dependency"; exit 1; }
echo "$INFO" | grep -q "libqt6sql6-psql" || { echo "FAIL: missing the Qt PostgreSQL driver dependency (department mode)"; exit 1; }
echo "$INFO" | grep -Eq "libqt6widgets6|libqt6core6" || { echo "FAIL: shlibdeps found no Qt dependency"; exit 1; }
CONTENTS=$(dpkg-deb -c "$DEB")
for f in ./usr/bin/panseg ./usr/share/applications/panseg.desktop ./usr/share/icons/hicolor/scalable/apps/panseg.svg; do
  echo "$CONTENTS" | grep -q " $f\$" || { echo "FAIL: $f not in package"; exit 1; }
done
ROOTDIR=$(mktemp -d)
trap 'rm -rf "$ROOTDIR"' EXIT
dpkg-deb -x "$DEB" "$ROOTDIR"
OUT=$("$ROOTDIR/usr/bin/panseg" --version)
echo "installed binary says: $OUT"
[ "$OUT" = "panseg $VERSION" ] || { echo "FAIL: unexpected version output"; exit 1; }
if command -v desktop-file-validate >/dev/null; then desktop-file-validate "$ROOTDIR/usr/share/applications/panseg.desktop"; fi
echo "PASS"
