################################################################################
#
# gasket-driver
#
################################################################################

GASKET_DRIVER_VERSION = 5815ee3908a46a415aac616ac7b9aedcb98a504c
GASKET_DRIVER_SITE = $(call github,google,gasket-driver,$(GASKET_DRIVER_VERSION))
GASKET_DRIVER_LICENSE = GPL-2.0
GASKET_DRIVER_LICENSE_FILES = LICENSE
GASKET_DRIVER_MODULE_SUBDIRS = src

$(eval $(kernel-module))
$(eval $(generic-package))
