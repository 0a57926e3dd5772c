"""A/B updates of the nvrd appliance around RAUC: the bootloader backends RAUC drives (Raspberry Pi
tryboot, U-Boot boot counters, GRUB for the x86-64 test image), the boot-time bookkeeping of a trial
(rollback detection, the database snapshot) and the health-tied confirmation of a new slot.

Standard library only, independent of nvrd: it runs as root from RAUC and systemd on the box, and
from the tests against temporary folders standing in for /boot, /proc and the U-Boot environment.
"""
