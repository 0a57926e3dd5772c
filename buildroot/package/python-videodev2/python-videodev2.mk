################################################################################
#
# python-videodev2
#
################################################################################

PYTHON_VIDEODEV2_VERSION = 0.0.4
PYTHON_VIDEODEV2_SOURCE = videodev2-$(PYTHON_VIDEODEV2_VERSION).tar.gz
PYTHON_VIDEODEV2_SITE = https://files.pythonhosted.org/packages/7c/82/ffdba8838b1f24b83268863a8f66fe9334d7f28a5b9c368f9c48f7516e69
# The sdist carries no license file; its metadata says BSD-3-Clause.
PYTHON_VIDEODEV2_LICENSE = BSD-3-Clause
PYTHON_VIDEODEV2_SETUP_TYPE = setuptools

$(eval $(python-package))
