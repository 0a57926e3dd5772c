#!/bin/sh
# Buildroot post-build script, shared by every board (BR2_ROOTFS_POST_BUILD_SCRIPT).
# $1 = TARGET_DIR, $2 = board name (BR2_ROOTFS_POST_SCRIPT_ARGS).
set -eu

target=${1:?usage: post-build.sh TARGET_DIR BOARD}
board=${2:?usage: post-build.sh TARGET_DIR BOARD}

# Units from the overlay, enabled the way "systemctl enable" would (no host systemctl needed).
wants="$target/etc/systemd/system/multi-user.target.wants"
mkdir -p "$wants"
for unit in nvrd.service nvr-ssh.service; do
	ln -sf "/usr/lib/systemd/system/$unit" "$wants/$unit"
done

# A login prompt on the HDMI screen too (the serial console gets one from Buildroot), for recovery.
gettys="$target/etc/systemd/system/getty.target.wants"
mkdir -p "$gettys"
ln -sf /usr/lib/systemd/system/getty@.service "$gettys/getty@tty1.service"

# systemd-update-done would try to write the read-only /etc and /var stamps on every boot.
ln -sf /dev/null "$target/etc/systemd/system/systemd-update-done.service"

# What the image is, for the web page, support and the OTA issue later.
version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$BR2_EXTERNAL_NVR_PATH/../nvrd/__init__.py")
cat > "$target/usr/lib/nvr-release" <<RELEASE
NVR_BOARD=$board
NVR_VERSION=$version
RELEASE

# RAUC: system.conf for this board, the keyring, the slot hooks and nvr-update (README.md, "Over-the-air updates").
"$(dirname "$0")/rauc/install-rauc.sh" "$target" "$board"
