################################################################################
#
# python-zeep
#
################################################################################

PYTHON_ZEEP_VERSION = 4.3.3
PYTHON_ZEEP_SOURCE = zeep-$(PYTHON_ZEEP_VERSION).tar.gz
PYTHON_ZEEP_SITE = https://files.pythonhosted.org/packages/7e/c2/e06e5f177d818d0fc34fcbe2f98c175af2cba63b7d90f4bfcb6fe360d343
PYTHON_ZEEP_LICENSE = MIT
PYTHON_ZEEP_LICENSE_FILES = LICENSE
PYTHON_ZEEP_SETUP_TYPE = setuptools

$(eval $(python-package))
