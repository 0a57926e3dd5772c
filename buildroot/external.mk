# Our packages: each package/<name>/<name>.mk is read in name order.
include $(sort $(wildcard $(BR2_EXTERNAL_NVR_PATH)/package/*/*.mk))
