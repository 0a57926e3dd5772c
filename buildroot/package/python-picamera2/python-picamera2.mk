################################################################################
#
# python-picamera2
#
################################################################################

PYTHON_PICAMERA2_VERSION = 0.3.36
PYTHON_PICAMERA2_SOURCE = picamera2-$(PYTHON_PICAMERA2_VERSION).tar.gz
PYTHON_PICAMERA2_SITE = https://files.pythonhosted.org/packages/58/9a/1e4a8cb27098735b8d6bf1d68e6ed3e2ca758c078fdebb3728334d3381a8
PYTHON_PICAMERA2_LICENSE = BSD-2-Clause
PYTHON_PICAMERA2_LICENSE_FILES = LICENSE
PYTHON_PICAMERA2_SETUP_TYPE = setuptools

$(eval $(python-package))
