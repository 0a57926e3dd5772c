################################################################################
#
# python-tflite-runtime
#
################################################################################

# The fallback TFLite runtime (tflite_runtime.interpreter), from Google's
# prebuilt wheel. Its last release (2.14.0) stops at Python 3.11 on aarch64,
# so it only fits a Buildroot whose Python is 3.11; 2025.02 has 3.12.
PYTHON_TFLITE_RUNTIME_VERSION = 2.14.0
PYTHON_TFLITE_RUNTIME_SOURCE = tflite_runtime-$(PYTHON_TFLITE_RUNTIME_VERSION)-cp311-cp311-manylinux_2_34_aarch64.whl
PYTHON_TFLITE_RUNTIME_SITE = https://files.pythonhosted.org/packages/f2/e9/5fc0435129c23c17551fcfadc82bd0d5482276213dfbc641f07b4420cb6d
# The wheel carries no license file.
PYTHON_TFLITE_RUNTIME_LICENSE = Apache-2.0
PYTHON_TFLITE_RUNTIME_DEPENDENCIES = host-python-installer python3

ifeq ($(BR2_PACKAGE_PYTHON_TFLITE_RUNTIME),y)
ifneq ($(PYTHON3_VERSION_MAJOR),3.11)
$(error python-tflite-runtime: the newest wheel is for Python 3.11, the target has $(PYTHON3_VERSION_MAJOR); use python-ai-edge-litert)
endif
endif

define PYTHON_TFLITE_RUNTIME_EXTRACT_CMDS
	mkdir -p $(@D)/dist
	cp $(PYTHON_TFLITE_RUNTIME_DL_DIR)/$(PYTHON_TFLITE_RUNTIME_SOURCE) $(@D)/dist/
endef

define PYTHON_TFLITE_RUNTIME_INSTALL_TARGET_CMDS
	cd $(@D) && $(PKG_PYTHON_PEP517_ENV) $(HOST_DIR)/bin/python3 \
		$(PKG_PYTHON_PEP517_INSTALL_TARGET_CMD)
endef

$(eval $(generic-package))
