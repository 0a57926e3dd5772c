################################################################################
#
# python-onvif-zeep-async
#
################################################################################

PYTHON_ONVIF_ZEEP_ASYNC_VERSION = 4.3.0
PYTHON_ONVIF_ZEEP_ASYNC_SOURCE = onvif_zeep_async-$(PYTHON_ONVIF_ZEEP_ASYNC_VERSION).tar.gz
PYTHON_ONVIF_ZEEP_ASYNC_SITE = https://files.pythonhosted.org/packages/16/73/dd11c70a17551b586069f655a10fa529a9d036e22df786e6e6fd7409ab39
PYTHON_ONVIF_ZEEP_ASYNC_LICENSE = MIT
PYTHON_ONVIF_ZEEP_ASYNC_LICENSE_FILES = LICENSE
PYTHON_ONVIF_ZEEP_ASYNC_SETUP_TYPE = setuptools
# pyproject.toml asks for setuptools>=82.0.1, newer than the pinned
# Buildroot's 80.9.0; setup.py uses only setup() and find_packages(), and
# 80.9.0 builds a wheel with the same files as the one on PyPI.
PYTHON_ONVIF_ZEEP_ASYNC_BUILD_OPTS = --skip-dependency-check

$(eval $(python-package))
