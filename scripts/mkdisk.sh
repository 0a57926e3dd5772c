#!/bin/sh
# Builds the SD card image of one board from image.cfg with genimage, and prints its path.
#
# usage: mkdisk.sh BOARD INPUT_DIR STAGING_ROOT OUTPUT_DIR
#   INPUT_DIR     rootfs.squashfs, and u-boot-rockchip.bin on the ROCK 5B (Buildroot's images/)
#   STAGING_ROOT  boot/ (the boot partition's files), overlay/ and data/ (their first contents)
#   OUTPUT_DIR    where boot.vfat, overlay.ext4, data.ext4 and sdcard.img are written
#
# The shared layout is image.cfg; board/BOARD/ supplies its include()d pieces, and
# board/common/layout.env the disk and partition GUIDs (passed through the environment).
set -eu

usage="usage: mkdisk.sh BOARD INPUT_DIR STAGING_ROOT OUTPUT_DIR"
board=${1:?$usage}
input=${2:?$usage}
root=${3:?$usage}
output=${4:?$usage}

top=$(cd "$(dirname "$0")/.." && pwd)
[ -d "$top/board/$board" ] || { echo "mkdisk: no board/$board" >&2; exit 1; }

set -a
# shellcheck source=../board/common/layout.env
. "$top/board/common/layout.env"
set +a

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$output"

# genimage only finds include()d files when the config path is relative, hence the cd.
# It talks on stdout; keep stdout for the one line the caller reads.
input=$(cd "$input" && pwd)
root=$(cd "$root" && pwd)
output=$(cd "$output" && pwd)
cd "$top"
"${GENIMAGE:-genimage}" \
	--config image.cfg \
	--includepath "$top/board/$board" \
	--rootpath "$root" \
	--tmppath "$work/tmp" \
	--inputpath "$input" \
	--outputpath "$output" >&2

echo "$output/sdcard.img"
