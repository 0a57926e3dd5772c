################################################################################
#
# libedgetpu
#
################################################################################

# The Edge TPU runtime, prebuilt. Google's last release (16.0) predates
# current TensorFlow Lite runtimes; this is the maintained fork's build
# against TensorFlow 2.17.1, the one Frigate ships (the "max" build: full
# clock speed). A source build needs Bazel or a matching TensorFlow source
# tree, hence the binary.
LIBEDGETPU_VERSION = 16.0tf2.17.1-1
LIBEDGETPU_SOURCE = libedgetpu1-max_$(LIBEDGETPU_VERSION).bookworm_arm64.deb
LIBEDGETPU_SITE = https://github.com/feranick/libedgetpu/releases/download/16.0TF2.17.1-1
LIBEDGETPU_LICENSE = Apache-2.0
LIBEDGETPU_LICENSE_FILES = usr/share/doc/libedgetpu1-max/copyright
LIBEDGETPU_INSTALL_STAGING = YES
LIBEDGETPU_DEPENDENCIES = libusb
# No checksum of this release asset could be recorded yet (the build
# machines cannot reach github.com); see libedgetpu.hash.
BR_NO_CHECK_HASH_FOR += $(LIBEDGETPU_SOURCE)

define LIBEDGETPU_EXTRACT_CMDS
	cd $(@D) && ar x $(LIBEDGETPU_DL_DIR)/$(LIBEDGETPU_SOURCE)
	tar -xf $(@D)/data.tar.* -C $(@D)
endef

define LIBEDGETPU_INSTALL_STAGING_CMDS
	$(INSTALL) -D -m 0755 $(@D)/usr/lib/aarch64-linux-gnu/libedgetpu.so.1.0 \
		$(STAGING_DIR)/usr/lib/libedgetpu.so.1.0
	ln -sf libedgetpu.so.1.0 $(STAGING_DIR)/usr/lib/libedgetpu.so.1
endef

# Only the library: the udev rules for the USB accelerator come with the
# image (overlay/usr/lib/udev/rules.d/70-nvr-coral.rules).
define LIBEDGETPU_INSTALL_TARGET_CMDS
	$(INSTALL) -D -m 0755 $(@D)/usr/lib/aarch64-linux-gnu/libedgetpu.so.1.0 \
		$(TARGET_DIR)/usr/lib/libedgetpu.so.1.0
	ln -sf libedgetpu.so.1.0 $(TARGET_DIR)/usr/lib/libedgetpu.so.1
endef

$(eval $(generic-package))
