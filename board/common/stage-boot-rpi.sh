#!/bin/sh
# Fills the Raspberry Pi boot partition (shared by the Pi 4 and Pi 5 boards).
#
# usage: stage-boot-rpi.sh BINARIES_DIR BOOT_DIR BOARD_DIR
#
# Layout (the firmware reads config.txt, whose os_prefix names the slot folder; from that folder
# it loads the kernel, device trees, overlays and cmdline.txt):
#   config.txt at the top, and start4.elf/fixup4.dat on the Pi 4
#   slot-a/Image, slot-a/*.dtb, slot-a/overlays/, slot-a/cmdline.txt
# The OTA update (a later issue) writes slot-b/ and boots it once through tryboot.txt.
set -eu

binaries=${1:?usage: stage-boot-rpi.sh BINARIES_DIR BOOT_DIR BOARD_DIR}
boot=${2:?usage: stage-boot-rpi.sh BINARIES_DIR BOOT_DIR BOARD_DIR}
board_dir=${3:?usage: stage-boot-rpi.sh BINARIES_DIR BOOT_DIR BOARD_DIR}
# shellcheck source=layout.env
. "$(dirname "$0")/layout.env"

firmware="$binaries/rpi-firmware"
slot="$boot/slot-a"
mkdir -p "$slot/overlays"

cp "$board_dir/config.txt" "$boot/config.txt"
# Only the Pi 4 has (and needs) GPU firmware files on the card; the Pi 5 keeps them in EEPROM.
for file in start4.elf fixup4.dat; do
	if [ -e "$firmware/$file" ]; then
		cp "$firmware/$file" "$boot/$file"
	fi
done

cp "$binaries/Image" "$slot/Image"
found_dtb=no
for dtb in "$binaries"/*.dtb; do
	[ -e "$dtb" ] || continue
	cp "$dtb" "$slot/"
	found_dtb=yes
done
[ "$found_dtb" = yes ] || { echo "stage-boot-rpi: no .dtb in $binaries" >&2; exit 1; }
if [ -d "$firmware/overlays" ]; then
	cp -r "$firmware/overlays/." "$slot/overlays/"
fi
# Without overlays/README the firmware ignores os_prefix when it looks for overlays.
touch "$slot/overlays/README"

sed -e "s/@ROOT_PARTUUID@/$NVR_PARTUUID_ROOTFS_A/" -e "s/@SLOT@/A/" \
	"$board_dir/cmdline.txt" > "$slot/cmdline.txt"
