################################################################################
#
# python-sqlite-utils
#
################################################################################

PYTHON_SQLITE_UTILS_VERSION = 4.2.1
PYTHON_SQLITE_UTILS_SOURCE = sqlite_utils-$(PYTHON_SQLITE_UTILS_VERSION).tar.gz
PYTHON_SQLITE_UTILS_SITE = https://files.pythonhosted.org/packages/7e/6b/4a7b3d20c92e6c7acedc96ef620df8e1ea8f94a26a41ab788c1c08055815
PYTHON_SQLITE_UTILS_LICENSE = Apache-2.0
PYTHON_SQLITE_UTILS_LICENSE_FILES = LICENSE
PYTHON_SQLITE_UTILS_SETUP_TYPE = setuptools

$(eval $(python-package))
