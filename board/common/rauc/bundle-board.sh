#!/bin/sh
# Makes the update bundle of one board from its finished Buildroot build (`make bundle`): the
# root filesystem image, and the slot's boot folder laid out by the board's own stage-boot.sh
# exactly as the SD card's slot-a/ (kernel, device trees, overlays, cmdline.txt).
#
# usage: bundle-board.sh BOARD IMAGES_DIR VERSION OUTPUT
#   NVR_SIGNING_KEY, NVR_SIGNING_CERT as for make-bundle.sh; HOST_DIR: Buildroot's host tools
set -eu

usage="usage: bundle-board.sh BOARD IMAGES_DIR VERSION OUTPUT"
board=${1:?$usage}
images=${2:?$usage}
version=${3:?$usage}
output=${4:?$usage}
here=$(cd "$(dirname "$0")" && pwd)
board_dir=$(cd "$here/../../$board" 2>/dev/null && pwd) || { echo "bundle-board: no board/$board" >&2; exit 1; }

if [ ! -f "$images/rootfs.squashfs" ]; then
	echo "bundle-board: no $images/rootfs.squashfs; build the image first (make image BOARD=$board)" >&2
	exit 1
fi
# Buildroot's own rauc when the build made one (BR2_PACKAGE_HOST_RAUC), else the machine's.
if [ -z "${RAUC:-}" ] && [ -x "${HOST_DIR:-/nonexistent}/bin/rauc" ]; then
	RAUC="$HOST_DIR/bin/rauc"
	export RAUC
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$board_dir/stage-boot.sh" "$images" "$work/boot" "$board_dir"
"$here/make-bundle.sh" --compatible "nvr-$board" --version "$version" \
	--rootfs "$images/rootfs.squashfs" --boot "$work/boot/slot-a" --output "$output"
