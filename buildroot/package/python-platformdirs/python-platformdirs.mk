################################################################################
#
# python-platformdirs
#
################################################################################

# 4.4.0 is the newest release whose build requirements (hatch-vcs >= 0.4,
# hatchling >= 1.27) the pinned Buildroot's host packages meet; later ones
# want hatch-vcs >= 0.5. zeep, its user here, needs only >= 1.4.0.
PYTHON_PLATFORMDIRS_VERSION = 4.4.0
PYTHON_PLATFORMDIRS_SOURCE = platformdirs-$(PYTHON_PLATFORMDIRS_VERSION).tar.gz
PYTHON_PLATFORMDIRS_SITE = https://files.pythonhosted.org/packages/23/e8/21db9c9987b0e728855bd57bff6984f67952bea55d6f75e055c46b5383e8
PYTHON_PLATFORMDIRS_LICENSE = MIT
PYTHON_PLATFORMDIRS_LICENSE_FILES = LICENSE
PYTHON_PLATFORMDIRS_SETUP_TYPE = hatch
PYTHON_PLATFORMDIRS_DEPENDENCIES = host-python-hatch-vcs

$(eval $(python-package))
