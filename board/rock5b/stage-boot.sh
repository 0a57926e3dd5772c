#!/bin/sh
# Fills the ROCK 5B boot partition: U-Boot's boot.scr at the top, one folder per slot with the
# kernel and device tree. U-Boot itself sits raw before the first partition (bootloader.cfg).
#
# usage: stage-boot.sh BINARIES_DIR BOOT_DIR BOARD_DIR
set -eu

binaries=${1:?usage: stage-boot.sh BINARIES_DIR BOOT_DIR BOARD_DIR}
boot=${2:?usage: stage-boot.sh BINARIES_DIR BOOT_DIR BOARD_DIR}
board_dir=${3:?usage: stage-boot.sh BINARIES_DIR BOOT_DIR BOARD_DIR}
# shellcheck source=../common/layout.env
. "$board_dir/../common/layout.env"
mkimage=${MKIMAGE:-${HOST_DIR:-}/bin/mkimage}

slot="$boot/slot-a"
mkdir -p "$slot"
cp "$binaries/Image" "$slot/Image"
cp "$binaries/rk3588-rock-5b.dtb" "$slot/rk3588-rock-5b.dtb"

# Both slots' root PARTUUIDs go into the script: it picks one at boot by the counters.
sed -e "s/@ROOTFS_A_PARTUUID@/$NVR_PARTUUID_ROOTFS_A/" \
	-e "s/@ROOTFS_B_PARTUUID@/$NVR_PARTUUID_ROOTFS_B/" \
	"$board_dir/boot.cmd" > "$boot/boot.cmd"
"$mkimage" -A arm64 -O linux -T script -C none -n "nvr A/B boot" -d "$boot/boot.cmd" "$boot/boot.scr" >/dev/null
