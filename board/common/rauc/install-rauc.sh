#!/bin/sh
# Puts RAUC's configuration and the OTA tools into a root filesystem, for one board. Buildroot's
# post-build step runs it (board/common/post-build.sh), and so does the system test's image build.
#
# usage: install-rauc.sh TARGET_DIR BOARD
#   NVR_RAUC_KEYRING  the CA certificate bundles must be signed under (default: the development
#                     CA, which anybody can sign for: fine for tests, never for a release)
#
# Writes /etc/rauc/system.conf, /etc/rauc/keyring.pem, /usr/lib/nvr/ota.conf and
# /usr/bin/nvr-update. The rest (nvr-boot, the units) comes with overlay/.
set -eu

target=${1:?usage: install-rauc.sh TARGET_DIR BOARD}
board=${2:?usage: install-rauc.sh TARGET_DIR BOARD}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
# shellcheck source=../layout.env
. "$here/../layout.env"

case "$board" in
rpi4 | rpi5) backend=tryboot kernel=Image ;;
rock5b) backend=uboot kernel=Image ;;
qemu-x86_64) backend=grub kernel=vmlinuz ;;
*)
	echo "install-rauc: no OTA settings for board '$board'" >&2
	exit 1
	;;
esac

keyring=${NVR_RAUC_KEYRING:-$here/dev-keys/DEVELOPMENT-ONLY-ca.cert.pem}
[ -s "$keyring" ] || { echo "install-rauc: no keyring at $keyring" >&2; exit 1; }
if grep -q "DEVELOPMENT ONLY" "$keyring" 2>/dev/null || openssl x509 -in "$keyring" -noout -subject 2>/dev/null | grep -q "DEVELOPMENT ONLY"; then
	echo "install-rauc: WARNING: the image trusts the DEVELOPMENT-ONLY key, which anybody can sign with;" >&2
	echo "install-rauc: WARNING: set NVR_RAUC_KEYRING to your own CA (README.md, "Over-the-air updates") for a release" >&2
fi

render() {
	sed -e "s|@BOARD@|$board|g" -e "s|@COMPATIBLE@|nvr-$board|g" \
		-e "s|@BACKEND@|$backend|g" -e "s|@KERNEL@|$kernel|g" \
		-e "s|@ROOTFS_A@|$NVR_PARTUUID_ROOTFS_A|g" -e "s|@ROOTFS_B@|$NVR_PARTUUID_ROOTFS_B|g" "$1"
}

mkdir -p "$target/etc/rauc" "$target/usr/lib/nvr" "$target/usr/bin"
render "$here/system.conf.in" > "$target/etc/rauc/system.conf"
render "$here/ota.conf.in" > "$target/usr/lib/nvr/ota.conf"
cp "$keyring" "$target/etc/rauc/keyring.pem"
chmod 0644 "$target/etc/rauc/system.conf" "$target/usr/lib/nvr/ota.conf" "$target/etc/rauc/keyring.pem"
cp "$top/scripts/nvr-update" "$target/usr/bin/nvr-update"
chmod 0755 "$target/usr/bin/nvr-update"
