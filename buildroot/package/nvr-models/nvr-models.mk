################################################################################
#
# nvr-models
#
################################################################################

# The detection model nvrd uses by default, in its CPU and Edge TPU builds,
# and its COCO label map: Google Coral's MobileNet SSD v2 (COCO), from the
# google-coral/edgetpu repository at the commit that added them.
NVR_MODELS_VERSION = 75e675633c2110a991426c8afa64f122b16ac372
NVR_MODELS_SITE = https://raw.githubusercontent.com/google-coral/edgetpu/$(NVR_MODELS_VERSION)/test_data
NVR_MODELS_SOURCE = mobilenet_ssd_v2_coco_quant_postprocess.tflite
NVR_MODELS_EXTRA_DOWNLOADS = \
	mobilenet_ssd_v2_coco_quant_postprocess_edgetpu.tflite \
	coco_labels.txt
NVR_MODELS_LICENSE = Apache-2.0
NVR_MODELS_FILES = $(NVR_MODELS_SOURCE) $(NVR_MODELS_EXTRA_DOWNLOADS)

define NVR_MODELS_EXTRACT_CMDS
	$(foreach f,$(NVR_MODELS_FILES),cp $(NVR_MODELS_DL_DIR)/$(f) $(@D)/$(f)$(sep))
endef

# Where nvrd looks by default (model.path in /etc/nvr/config.yml).
define NVR_MODELS_INSTALL_TARGET_CMDS
	$(foreach f,$(NVR_MODELS_FILES),\
		$(INSTALL) -D -m 0644 $(@D)/$(f) $(TARGET_DIR)/usr/share/nvr/models/$(f)$(sep))
endef

$(eval $(generic-package))
