#!/bin/sh
# Buildroot post-image script, shared by every board (BR2_ROOTFS_POST_IMAGE_SCRIPT).
# $1 = BINARIES_DIR, $2 = board name (BR2_ROOTFS_POST_SCRIPT_ARGS).
#
# Lays out the boot partition's files (the board's stage-boot.sh), then has scripts/mkdisk.sh
# build the SD card image from image.cfg, and leaves in BINARIES_DIR:
#   nvr-<board>.img, nvr-<board>.img.bmap (for bmaptool), nvr-<board>.img.xz (for Imager/Etcher)
set -eu

binaries=${1:?usage: post-image.sh BINARIES_DIR BOARD}
board=${2:?usage: post-image.sh BINARIES_DIR BOARD}
top="$BR2_EXTERNAL_NVR_PATH/.."
board_dir="$top/board/$board"

staging="$binaries/nvr-disk"
rm -rf "$staging"
mkdir -p "$staging/boot" "$staging/overlay" "$staging/data"

"$board_dir/stage-boot.sh" "$binaries" "$staging/boot" "$board_dir"

image=$("$top/scripts/mkdisk.sh" "$board" "$binaries" "$staging" "$binaries")
final="$binaries/nvr-$board.img"
mv "$image" "$final"

# The .bmap lets bmaptool skip the image's empty blocks (most of it): flashing takes a minute
# instead of ten.
if [ -x "${HOST_DIR:-}/bin/bmaptool" ]; then
	"$HOST_DIR/bin/bmaptool" create -o "$final.bmap" "$final"
fi
xz -T0 -6 -k -f "$final"
for extra in "$final".*; do
	echo "post-image: $extra"
done
echo "post-image: $final ready"
