################################################################################
#
# python-backports-strenum
#
################################################################################

PYTHON_BACKPORTS_STRENUM_VERSION = 1.2.8
PYTHON_BACKPORTS_STRENUM_SOURCE = backports_strenum-$(PYTHON_BACKPORTS_STRENUM_VERSION).tar.gz
PYTHON_BACKPORTS_STRENUM_SITE = https://files.pythonhosted.org/packages/57/f1/611f9ce7f5ede2e8156d3bc6cd2c62a7f2ff07d73b948925da84785cf331
# pyproject.toml says MIT; the LICENSE file it ships is the Python
# Software Foundation license of the code it backports.
PYTHON_BACKPORTS_STRENUM_LICENSE = PSF-2.0
PYTHON_BACKPORTS_STRENUM_LICENSE_FILES = LICENSE
PYTHON_BACKPORTS_STRENUM_SETUP_TYPE = poetry

$(eval $(python-package))
