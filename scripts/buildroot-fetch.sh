#!/bin/sh
# Fetches the pinned Buildroot release tarball, checks its SHA-256 and unpacks it.
# Buildroot's code is never committed to this repository; it lives under build/.
#
# usage: buildroot-fetch.sh VERSION SHA256 BUILD_DIR
#   leaves BUILD_DIR/buildroot-VERSION/ and keeps the tarball in BUILD_DIR/dl/
set -eu

usage="usage: buildroot-fetch.sh VERSION SHA256 BUILD_DIR"
version=${1:?$usage}
sha256=${2:?$usage}
build=${3:?$usage}

tarball="buildroot-$version.tar.xz"
url=${NVR_BUILDROOT_URL:-https://buildroot.org/downloads}/$tarball
dest="$build/buildroot-$version"

if [ -f "$dest/Makefile" ]; then
	exit 0
fi
mkdir -p "$build/dl"
if [ ! -f "$build/dl/$tarball" ]; then
	echo "buildroot-fetch: downloading $url"
	curl -fL --retry 3 -o "$build/dl/$tarball.part" "$url"
	mv "$build/dl/$tarball.part" "$build/dl/$tarball"
fi

actual=$(sha256sum "$build/dl/$tarball" | cut -d' ' -f1)
if [ "$actual" != "$sha256" ]; then
	rm -f "$build/dl/$tarball"
	echo "buildroot-fetch: $tarball has SHA-256 $actual, expected $sha256; deleted it" >&2
	exit 1
fi

rm -rf "$dest.part"
mkdir -p "$dest.part"
tar -xJf "$build/dl/$tarball" -C "$dest.part" --strip-components=1
mv "$dest.part" "$dest"
echo "buildroot-fetch: Buildroot $version ready in $dest"
