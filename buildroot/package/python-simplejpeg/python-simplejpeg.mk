################################################################################
#
# python-simplejpeg
#
################################################################################

PYTHON_SIMPLEJPEG_VERSION = 1.9.0
PYTHON_SIMPLEJPEG_SOURCE = simplejpeg-$(PYTHON_SIMPLEJPEG_VERSION).tar.gz
PYTHON_SIMPLEJPEG_SITE = https://files.pythonhosted.org/packages/90/64/da60f0ba80570f9a36c9b6e055f4364bda2c547715296d5773d2ea6d5a60
# simplejpeg is MIT; it links the libjpeg-turbo it bundles statically.
PYTHON_SIMPLEJPEG_LICENSE = MIT, IJG, BSD-3-Clause (bundled libjpeg-turbo)
PYTHON_SIMPLEJPEG_LICENSE_FILES = LICENSE
PYTHON_SIMPLEJPEG_SETUP_TYPE = pep517
PYTHON_SIMPLEJPEG_DEPENDENCIES = \
	$(BR2_CMAKE_HOST_DEPENDENCY) \
	host-python-cython \
	host-python-numpy \
	host-python-setuptools \
	python-numpy
# The build wants numpy>=2 only to make wheels that load with either numpy
# major version; built against the numpy it runs with, 1.x is fine.
PYTHON_SIMPLEJPEG_BUILD_OPTS = --skip-dependency-check
# setup.py builds the bundled libjpeg-turbo with cmake; the toolchain file
# (read from the environment by cmake >= 3.21) makes that a cross build.
PYTHON_SIMPLEJPEG_ENV = \
	CMAKE_TOOLCHAIN_FILE=$(HOST_DIR)/share/buildroot/toolchainfile.cmake

$(eval $(python-package))
