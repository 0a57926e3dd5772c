################################################################################
#
# python-click-default-group
#
################################################################################

PYTHON_CLICK_DEFAULT_GROUP_VERSION = 1.2.4
PYTHON_CLICK_DEFAULT_GROUP_SOURCE = click_default_group-$(PYTHON_CLICK_DEFAULT_GROUP_VERSION).tar.gz
PYTHON_CLICK_DEFAULT_GROUP_SITE = https://files.pythonhosted.org/packages/1d/ce/edb087fb53de63dad3b36408ca30368f438738098e668b78c87f93cd41df
PYTHON_CLICK_DEFAULT_GROUP_LICENSE = BSD-3-Clause
PYTHON_CLICK_DEFAULT_GROUP_LICENSE_FILES = LICENSE
PYTHON_CLICK_DEFAULT_GROUP_SETUP_TYPE = flit

$(eval $(python-package))
