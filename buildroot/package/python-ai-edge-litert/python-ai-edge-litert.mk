################################################################################
#
# python-ai-edge-litert
#
################################################################################

# LiteRT (TensorFlow Lite's successor) ships no source release that builds
# without Bazel: this installs Google's prebuilt wheel for the target's
# Python (cp312, aarch64, glibc >= 2.27).
PYTHON_AI_EDGE_LITERT_VERSION = 2.3.0
PYTHON_AI_EDGE_LITERT_SOURCE = ai_edge_litert-$(PYTHON_AI_EDGE_LITERT_VERSION)-cp312-cp312-manylinux_2_27_aarch64.whl
PYTHON_AI_EDGE_LITERT_SITE = https://files.pythonhosted.org/packages/77/89/2bdb0260c4182358c0948316109a3850c37aa15b87665f4b12fb51ea706c
PYTHON_AI_EDGE_LITERT_LICENSE = Apache-2.0
PYTHON_AI_EDGE_LITERT_LICENSE_FILES = ai_edge_litert-$(PYTHON_AI_EDGE_LITERT_VERSION).dist-info/licenses/LICENSE
PYTHON_AI_EDGE_LITERT_DEPENDENCIES = host-python-installer python3

ifeq ($(BR2_PACKAGE_PYTHON_AI_EDGE_LITERT),y)
ifneq ($(PYTHON3_VERSION_MAJOR),3.12)
$(error python-ai-edge-litert: the wheel is for Python 3.12, the target has $(PYTHON3_VERSION_MAJOR); update the wheel name)
endif
endif

# The wheel goes to dist/, where Buildroot's Python install step looks;
# the license file is unpacked beside it for legal-info.
define PYTHON_AI_EDGE_LITERT_EXTRACT_CMDS
	mkdir -p $(@D)/dist
	cp $(PYTHON_AI_EDGE_LITERT_DL_DIR)/$(PYTHON_AI_EDGE_LITERT_SOURCE) $(@D)/dist/
	cd $(@D) && $(UNZIP) -o dist/$(PYTHON_AI_EDGE_LITERT_SOURCE) '*.dist-info/licenses/*'
endef

define PYTHON_AI_EDGE_LITERT_INSTALL_TARGET_CMDS
	cd $(@D) && $(PKG_PYTHON_PEP517_ENV) $(HOST_DIR)/bin/python3 \
		$(PKG_PYTHON_PEP517_INSTALL_TARGET_CMD)
endef

$(eval $(generic-package))
