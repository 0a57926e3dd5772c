#!/bin/sh
# Makes a signed RAUC update bundle (verity format) from a root filesystem image and the
# matching boot folder (kernel, device trees, cmdline.txt: what the board's slot-a/ holds).
#
# usage: make-bundle.sh --compatible nvr-BOARD --version VERSION --rootfs FILE --boot DIR --output FILE
#   NVR_SIGNING_KEY, NVR_SIGNING_CERT  the key and certificate to sign with (default: the
#                                      development pair in dev-keys/, with a warning)
#   RAUC                               the rauc program (default: rauc from PATH)
set -eu

usage="usage: make-bundle.sh --compatible nvr-BOARD --version VERSION --rootfs FILE --boot DIR --output FILE"
here=$(cd "$(dirname "$0")" && pwd)
compatible='' version='' rootfs='' boot='' output=''
while [ $# -gt 0 ]; do
	case "$1" in
	--compatible) compatible=${2:?$usage} ;;
	--version) version=${2:?$usage} ;;
	--rootfs) rootfs=${2:?$usage} ;;
	--boot) boot=${2:?$usage} ;;
	--output) output=${2:?$usage} ;;
	*)
		echo "$usage" >&2
		exit 2
		;;
	esac
	shift 2
done
for value in "$compatible" "$version" "$rootfs" "$boot" "$output"; do
	[ -n "$value" ] || { echo "$usage" >&2; exit 2; }
done
[ -f "$rootfs" ] || { echo "make-bundle: no root filesystem image at $rootfs" >&2; exit 1; }
[ -d "$boot" ] || { echo "make-bundle: no boot folder at $boot" >&2; exit 1; }
case "$version" in
*[!A-Za-z0-9.+~_-]*)
	echo "make-bundle: version '$version' may only hold letters, digits and . + ~ _ -" >&2
	exit 1
	;;
esac

key=${NVR_SIGNING_KEY:-$here/dev-keys/DEVELOPMENT-ONLY-signing.key.pem}
cert=${NVR_SIGNING_CERT:-$here/dev-keys/DEVELOPMENT-ONLY-signing.cert.pem}
case "$key" in
*DEVELOPMENT-ONLY*) echo "make-bundle: WARNING: signing with the DEVELOPMENT-ONLY key (tests only)" >&2 ;;
esac
rauc=${RAUC:-rauc}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bundle="$work/bundle"
mkdir -p "$bundle"
# A hard link when the image is on the same filesystem: the root filesystem is hundreds of MB.
ln "$rootfs" "$bundle/rootfs.squashfs" 2>/dev/null || cp "$rootfs" "$bundle/rootfs.squashfs"
cp -r "$boot" "$bundle/boot"
cp "$here/bundle-hook" "$bundle/hook"
chmod 0755 "$bundle/hook"
build=$(date -u +%Y%m%dT%H%M%SZ)
cat > "$bundle/manifest.raucm" <<MANIFEST
[update]
compatible=$compatible
version=$version
build=$build
description=nvrd appliance $version for $compatible

[bundle]
format=verity

[hooks]
filename=hook

[image.rootfs]
filename=rootfs.squashfs
hooks=post-install
MANIFEST

mkdir -p "$(dirname "$output")"
rm -f "$output"
"$rauc" bundle --cert="$cert" --key="$key" "$bundle" "$output" >"$work/log" 2>&1 || {
	cat "$work/log" >&2
	exit 1
}
echo "make-bundle: $output ($compatible $version)"
