#!/bin/sh
# The Raspberry Pi boot partition is the same on the Pi 4 and Pi 5; only config.txt differs.
exec "$(dirname "$0")/../common/stage-boot-rpi.sh" "$@"
