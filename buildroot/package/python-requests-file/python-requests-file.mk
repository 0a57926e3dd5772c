################################################################################
#
# python-requests-file
#
################################################################################

PYTHON_REQUESTS_FILE_VERSION = 3.0.1
PYTHON_REQUESTS_FILE_SOURCE = requests_file-$(PYTHON_REQUESTS_FILE_VERSION).tar.gz
PYTHON_REQUESTS_FILE_SITE = https://files.pythonhosted.org/packages/3c/f8/5dc70102e4d337063452c82e1f0d95e39abfe67aa222ed8a5ddeb9df8de8
PYTHON_REQUESTS_FILE_LICENSE = Apache-2.0
PYTHON_REQUESTS_FILE_LICENSE_FILES = LICENSE
PYTHON_REQUESTS_FILE_SETUP_TYPE = setuptools
PYTHON_REQUESTS_FILE_DEPENDENCIES = host-python-setuptools-scm

$(eval $(python-package))
