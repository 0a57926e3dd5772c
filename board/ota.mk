# Over-the-air update targets, included by board/image.mk (README.md, "Over-the-air updates" explains them).
#
#   make bundle BOARD=rpi4|rpi5|rock5b     the signed update bundle, next to the image:
#                                          output/<board>/images/nvr-<board>-<version>.raucb
#   make signing-keys KEYS=DIR             your own signing key pair (keep DIR safe and private)
#   make system-test                       the x86-64 appliance booted in QEMU (many minutes)
#
# Signing: NVR_SIGNING_KEY and NVR_SIGNING_CERT (default: the DEVELOPMENT-ONLY pair, which anybody
# can use; bundles signed with it install only on images built with the development keyring).

NVR_RAUC_DIR := $(NVR_TOP)/board/common/rauc
NVR_SIGNING_KEY ?= $(NVR_RAUC_DIR)/dev-keys/DEVELOPMENT-ONLY-signing.key.pem
NVR_SIGNING_CERT ?= $(NVR_RAUC_DIR)/dev-keys/DEVELOPMENT-ONLY-signing.cert.pem
NVR_BUNDLE_VERSION ?= $(shell sed -n 's/^__version__ = "\(.*\)"$$/\1/p' $(NVR_TOP)/nvrd/__init__.py)
NVR_BUNDLE := $(NVR_IMAGE_OUT)/images/nvr-$(BOARD)-$(NVR_BUNDLE_VERSION).raucb
KEYS ?=

.PHONY: bundle signing-keys system-test

bundle: nvr-board-check
	NVR_SIGNING_KEY=$(NVR_SIGNING_KEY) NVR_SIGNING_CERT=$(NVR_SIGNING_CERT) \
		HOST_DIR=$(NVR_IMAGE_OUT)/host $(NVR_RAUC_DIR)/bundle-board.sh $(BOARD) $(NVR_IMAGE_OUT)/images $(NVR_BUNDLE_VERSION) $(NVR_BUNDLE)

signing-keys:
	@test -n "$(KEYS)" || { echo "usage: make signing-keys KEYS=DIR (somewhere safe, not in this repository)" >&2; exit 1; }
	$(NVR_RAUC_DIR)/make-signing-keys.sh $(KEYS)

system-test: setup
	NVR_SYSTEM_TEST=1 $(NVR_TOP)/.venv/bin/pytest -v -p no:cacheprovider $(NVR_TOP)/tests/system
