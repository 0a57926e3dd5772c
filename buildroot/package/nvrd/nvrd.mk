################################################################################
#
# nvrd
#
################################################################################

# The daemon itself, built from this repository (the folder above the
# BR2_EXTERNAL tree). Its Python dependencies are the pinned list in
# requirements.txt, each mapped to a Buildroot package in
# buildroot/requirements-map.txt and selected in Config.in.
NVRD_VERSION = $(shell sed -n 's/^__version__ = "\(.*\)"$$/\1/p' $(BR2_EXTERNAL_NVR_PATH)/../nvrd/__init__.py)
NVRD_SITE = $(BR2_EXTERNAL_NVR_PATH)/..
NVRD_SITE_METHOD = local
NVRD_LICENSE = MIT
NVRD_SETUP_TYPE = setuptools
# Only what the wheel is built from: not the developer's venv, the image
# build's own output, or the tree being built.
NVRD_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude=/.venv \
	--exclude=/build \
	--exclude=/output \
	--exclude=/dl \
	--exclude=/tests \
	--exclude=/buildroot \
	--exclude=/board \
	--exclude=/overlay

# The factory default config: nvr-overlay-setup.service copies it to
# /etc/nvr/config.yml (on the overlay partition) on first boot.
define NVRD_INSTALL_DEFAULT_CONFIG
	$(INSTALL) -D -m 0644 $(NVRD_PKGDIR)/config.yml \
		$(TARGET_DIR)/usr/share/nvr/config.yml
endef
NVRD_POST_INSTALL_TARGET_HOOKS += NVRD_INSTALL_DEFAULT_CONFIG

$(eval $(python-package))
