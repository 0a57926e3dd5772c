#!/bin/sh
# Writes an nvr image to an SD card (or USB stick) with bmaptool, after making sure the target is
# a whole removable disk that nothing has mounted: a typo in DEVICE must not wipe a system disk.
#
# usage: flash.sh IMAGE DEVICE          e.g. flash.sh output/rpi4/images/nvr-rpi4.img /dev/sdb
#
# For tests: NVR_SYSFS and NVR_PROC_MOUNTS replace /sys and /proc/mounts, and NVR_FLASH_DRY_RUN=1
# prints the bmaptool command instead of running it.
set -eu

sysfs=${NVR_SYSFS:-/sys}
mounts=${NVR_PROC_MOUNTS:-/proc/mounts}
dry_run=${NVR_FLASH_DRY_RUN:-0}

die() {
	echo "flash: $*" >&2
	exit 1
}

image=${1:-}
device=${2:-}
if [ -z "$image" ] || [ -z "$device" ]; then
	die "usage: flash.sh IMAGE DEVICE (e.g. /dev/sdb)"
fi
[ -f "$image" ] || die "no image at $image (run 'make image BOARD=...' first)"

case "$device" in
	/dev/*) ;;
	*) die "DEVICE must be a /dev path, got '$device'" ;;
esac
name=${device#/dev/}
block="$sysfs/class/block/$name"
[ -e "$block" ] || die "$device is not a block device"
if [ "$dry_run" != 1 ] && [ ! -b "$device" ]; then
	die "$device is not a block device"
fi
[ ! -e "$block/partition" ] || die "$device is a partition; give the whole disk (e.g. /dev/sdb, not /dev/sdb1)"

# A card reader or USB stick reports removable=1; built-in SD slots show up as mmcblk and some
# USB readers say 0, so those two count as well. Anything else (SATA, NVMe) is refused.
removable=$(cat "$block/removable" 2>/dev/null || echo 0)
path=$(readlink -f "$block")
case "$removable:$name:$path" in
	1:*) ;;
	*:mmcblk*) ;;
	*/usb*) ;;
	*) die "$device is not removable (not an SD card or USB disk); refusing to overwrite it" ;;
esac

# Neither the disk nor any of its partitions may be mounted.
while read -r source target _rest; do
	case "$source" in
		"$device" | "$device"[0-9]* | "$device"p[0-9]*)
			die "$source is mounted on $target; unmount it first (e.g. 'umount $source')" ;;
	esac
done < "$mounts"

sectors=$(cat "$block/size" 2>/dev/null || echo 0)
image_bytes=$(wc -c < "$image")
if [ $((sectors * 512)) -lt "$image_bytes" ]; then
	die "$device holds $((sectors / 2048)) MiB, the image needs $((image_bytes / 1048576)) MiB"
fi

# bmaptool finds IMAGE.bmap by itself and then writes only the blocks that hold data.
if [ "$dry_run" = 1 ]; then
	echo "bmaptool copy $image $device"
	exit 0
fi
command -v bmaptool >/dev/null || die "bmaptool is missing (Debian/Ubuntu: apt install bmap-tools)"
[ "$(id -u)" = 0 ] || die "writing $device needs root: run it with sudo"
bmaptool copy "$image" "$device"
sync
echo "flash: done; put the card in the board and power it on"
