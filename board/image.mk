# Firmware image targets, included by the top-level Makefile.
#
#   make image BOARD=rpi4|rpi5|rock5b          build output/<board>/images/nvr-<board>.img(.xz)
#   make flash BOARD=... DEVICE=/dev/sdX        write it to an SD card with bmaptool
#   make menuconfig BOARD=...                   change the board's Buildroot configuration
#   make savedefconfig BOARD=...                write it back to buildroot/configs/
#   make buildroot-fetch                        download and check the pinned Buildroot
#   make check-package                          Buildroot's linter on buildroot/package/
#
# Nothing here runs, downloads or needs Buildroot unless one of these targets is asked for, so
# `make run` and `make test` work on a machine without it.

# Buildroot's long-term-support line, newest point release; the SHA-256 is that of the release
# tarball on buildroot.org (the release's signed checksum statement carries the same).
NVR_BUILDROOT_VERSION := 2025.02.16
NVR_BUILDROOT_SHA256 := 15305e3d366eeaf4a5ecaf2ed42f685fd6af7fe5dbf1f62e1de5f46ee83225e2

NVR_BOARDS := rpi4 rpi5 rock5b
BOARD ?= rpi4
DEVICE ?=

NVR_TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
NVR_BUILDROOT_DIR := $(NVR_TOP)/build/buildroot-$(NVR_BUILDROOT_VERSION)
NVR_IMAGE_OUT := $(NVR_TOP)/output/$(BOARD)
NVR_DEFCONFIG := $(NVR_TOP)/buildroot/configs/nvr_$(BOARD)_defconfig
NVR_BR_MAKE = $(MAKE) -C $(NVR_BUILDROOT_DIR) O=$(NVR_IMAGE_OUT) BR2_EXTERNAL=$(NVR_TOP)/buildroot

.PHONY: image flash menuconfig savedefconfig buildroot-fetch check-package nvr-board-check

nvr-board-check:
	@case " $(NVR_BOARDS) " in *" $(BOARD) "*) ;; \
		*) echo "BOARD must be one of: $(NVR_BOARDS) (got '$(BOARD)')" >&2; exit 1 ;; esac

buildroot-fetch: $(NVR_BUILDROOT_DIR)/Makefile

$(NVR_BUILDROOT_DIR)/Makefile:
	$(NVR_TOP)/scripts/buildroot-fetch.sh $(NVR_BUILDROOT_VERSION) $(NVR_BUILDROOT_SHA256) $(NVR_TOP)/build

# A changed defconfig (a pull, or savedefconfig) re-creates the board's .config.
$(NVR_IMAGE_OUT)/.config: $(NVR_DEFCONFIG) | $(NVR_BUILDROOT_DIR)/Makefile
	$(NVR_BR_MAKE) nvr_$(BOARD)_defconfig

image: nvr-board-check $(NVR_IMAGE_OUT)/.config
	$(NVR_BR_MAKE)
	@echo "Image: $(NVR_IMAGE_OUT)/images/nvr-$(BOARD).img (.xz for Raspberry Pi Imager or Etcher)"

menuconfig: nvr-board-check $(NVR_IMAGE_OUT)/.config
	$(NVR_BR_MAKE) menuconfig

savedefconfig: nvr-board-check $(NVR_IMAGE_OUT)/.config
	$(NVR_BR_MAKE) savedefconfig BR2_DEFCONFIG=$(NVR_DEFCONFIG)

flash: nvr-board-check
	@test -n "$(DEVICE)" || { echo "usage: make flash BOARD=$(BOARD) DEVICE=/dev/sdX" >&2; exit 1; }
	$(NVR_TOP)/scripts/flash.sh $(NVR_IMAGE_OUT)/images/nvr-$(BOARD).img $(DEVICE)

check-package: buildroot-fetch
	cd $(NVR_TOP) && $(NVR_BUILDROOT_DIR)/utils/check-package -b buildroot/package/*/*
include $(NVR_TOP)/board/ota.mk  # over-the-air updates: bundle, signing-keys, system-test
