################################################################################
#
# python-ciso8601
#
################################################################################

PYTHON_CISO8601_VERSION = 2.4.1
PYTHON_CISO8601_SOURCE = ciso8601-$(PYTHON_CISO8601_VERSION).tar.gz
PYTHON_CISO8601_SITE = https://files.pythonhosted.org/packages/ae/18/1dae4f49f59e71082e853742f97e9a5012e107e68151dd2786ffe911872c
PYTHON_CISO8601_LICENSE = MIT
PYTHON_CISO8601_LICENSE_FILES = LICENSE
PYTHON_CISO8601_SETUP_TYPE = setuptools

$(eval $(python-package))
