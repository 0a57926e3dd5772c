# U-Boot boot script of the nvrd appliance on the Radxa ROCK 5B (compiled to boot.scr).
#
# A/B slots with boot counters kept in U-Boot's environment (the bootstate partition):
#   BOOT_ORDER   slots in order of preference, "A B" by default
#   BOOT_x_LEFT  boot attempts left for slot x, 3 by default
# Each boot takes one attempt from the first slot that has any. Once the system is up and healthy,
# the OTA issue's confirm step (RAUC's U-Boot backend, via fw_setenv) resets the counter; a slot
# that keeps failing runs out of attempts and the other slot boots instead.

test -n "${BOOT_ORDER}" || setenv BOOT_ORDER "A B"
test -n "${BOOT_A_LEFT}" || setenv BOOT_A_LEFT 3
test -n "${BOOT_B_LEFT}" || setenv BOOT_B_LEFT 3

setenv nvr_slot
for slot in ${BOOT_ORDER}; do
	if test -z "${nvr_slot}"; then
		if test "${slot}" = "A" && test ${BOOT_A_LEFT} -gt 0; then
			setexpr BOOT_A_LEFT ${BOOT_A_LEFT} - 1
			setenv nvr_slot a
			setenv nvr_rauc_slot A
			setenv nvr_root @ROOTFS_A_PARTUUID@
		elif test "${slot}" = "B" && test ${BOOT_B_LEFT} -gt 0; then
			setexpr BOOT_B_LEFT ${BOOT_B_LEFT} - 1
			setenv nvr_slot b
			setenv nvr_rauc_slot B
			setenv nvr_root @ROOTFS_B_PARTUUID@
		fi
	fi
done

if test -z "${nvr_slot}"; then
	echo "nvr: no slot has boot attempts left; resetting the counters and starting over"
	setenv BOOT_A_LEFT 3
	setenv BOOT_B_LEFT 3
	saveenv
	reset
fi

# Store the spent attempt before booting, so a hang in the kernel counts too.
saveenv

setenv bootargs "root=PARTUUID=${nvr_root} rootfstype=squashfs ro rootwait rauc.slot=${nvr_rauc_slot} console=ttyS2,1500000 panic=10 quiet"
echo "nvr: booting slot ${nvr_rauc_slot} (A left ${BOOT_A_LEFT}, B left ${BOOT_B_LEFT})"
load ${devtype} ${devnum}:${distro_bootpart} ${kernel_addr_r} slot-${nvr_slot}/Image
load ${devtype} ${devnum}:${distro_bootpart} ${fdt_addr_r} slot-${nvr_slot}/rk3588-rock-5b.dtb
booti ${kernel_addr_r} - ${fdt_addr_r}
