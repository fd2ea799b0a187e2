#!/mc/busybox sh
# mc-netboot's minimal installer: /init of the installer initramfs (the image's own initramfs
# with this script, a static busybox and extlinux appended). It takes the network address
# iPXE got (mc.ip, mc.netmask) and the server's URL for this machine (mc.url) from the kernel
# command line, fetches its answer (which holds any secret: nothing secret is on the command
# line), writes the disk the server built from the image (MBR, an ESP with systemd-boot for
# UEFI, the root), puts extlinux into the root's boot sector for BIOS, phones home after every
# step with its log, and reboots. A failed step reports "failed" with the log and powers off.
/mc/busybox mkdir -p /mc/bin /proc /sys /dev /tmp /mnt
/mc/busybox --install -s /mc/bin
export PATH=/mc/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
set -o pipefail
LOG=/tmp/install.log
: >"$LOG"
for arg in $(cat /proc/cmdline); do
    case "$arg" in
    mc.url=*) URL=${arg#mc.url=} ;;
    mc.ip=*) IP=${arg#mc.ip=} ;;
    mc.netmask=*) NETMASK=${arg#mc.netmask=} ;;
    esac
done

log() { echo "mc-installer: $*" | tee -a "$LOG" >/dev/console; }
report() { wget -q -O /dev/null --post-file "$LOG" "$URL/$1"; }
fail() {
    log "step $1 failed"
    tail -n 20 "$LOG" >/dev/console
    report "failed/$1"
    sleep 2
    poweroff -f
}
step() {
    name=$1
    shift
    log "== $name"
    if "$@" >>"$LOG" 2>&1; then
        log "ok $name"
        report "step/$name" || log "could not report step $name"
    else
        fail "$name"
    fi
}

network() {
    modprobe virtio_pci && modprobe virtio_net || return 1
    for _ in 1 2 3 4 5 6 7 8 9 10; do [ -e /sys/class/net/eth0 ] && break; sleep 1; done
    ifconfig eth0 "$IP" netmask "$NETMASK" up
}

answer() {
    wget -q -O /tmp/answer "$URL/answer" && . /tmp/answer
}

disk() {
    modprobe virtio_blk
    modprobe ext4
    for _ in 1 2 3 4 5 6 7 8 9 10; do [ -b "$MC_DISK" ] && break; sleep 1; done
    [ -b "$MC_DISK" ] || { echo "no disk $MC_DISK"; return 1; }
    size=$(blockdev --getsize64 "$MC_DISK")
    echo "$MC_DISK: $size bytes, the installed disk needs $MC_DISK_BYTES"
    [ "$size" -ge "$MC_DISK_BYTES" ]
}

# The disk's data, extent by extent (64 KiB blocks): a fresh disk reads as zeros already. Then
# the kernel reads the new partition table.
write_disk() {
    wget -q -O /tmp/extents "$URL/extents" || return 1
    while read -r start count; do
        wget -q -O - "$URL/disk?start=$start&count=$count" |
            dd of="$MC_DISK" bs=65536 seek="$start" conv=notrunc 2>/dev/null || return 1
    done </tmp/extents
    sync
    echo "wrote $(wc -l </tmp/extents) extents"
    blockdev --rereadpt "$MC_DISK" || return 1
    for _ in 1 2 3 4 5; do [ -b "$MC_ROOT_DEV" ] && break; sleep 1; done
    [ -b "$MC_ROOT_DEV" ] || { echo "no partition $MC_ROOT_DEV"; return 1; }
}

configure() {
    mount -t ext4 "$MC_ROOT_DEV" /mnt || return 1
    echo "$MC_HOSTNAME" >/mnt/etc/hostname
    printf '%s\n' "$MC_FSTAB" >/mnt/etc/fstab
    if [ -n "$MC_ROOT_PASSWORD" ]; then
        hash=$(mkpasswd -m sha512 "$MC_ROOT_PASSWORD") || return 1
        sed -i "s|^root:[^:]*:|root:$hash:|" /mnt/etc/shadow
    fi
    unset MC_ROOT_PASSWORD
    rm -f /tmp/answer
}

boot_loader() {
    kernel=$(cd /mnt/boot && ls vmlinuz-* | head -n 1)
    initrd=$(cd /mnt/boot && ls initrd.img-* | head -n 1)
    [ -n "$kernel" ] && [ -n "$initrd" ] || { echo "no kernel in /boot"; return 1; }
    mkdir -p /mnt/boot/extlinux
    printf 'DEFAULT mc\nPROMPT 0\nTIMEOUT 0\nLABEL mc\n  LINUX /boot/%s\n  INITRD /boot/%s\n  APPEND %s\n' \
        "$kernel" "$initrd" "$MC_APPEND" >/mnt/boot/extlinux/extlinux.conf
    cat /mnt/boot/extlinux/extlinux.conf
    /mc/ld-linux-x86-64.so.2 --library-path /mc /mc/extlinux --install /mnt/boot/extlinux || return 1
    umount /mnt && sync
}

step network network
step answer answer
step disk disk
step write-disk write_disk
step configure configure
step boot-loader boot_loader
log "installed; rebooting from $MC_DISK"
report done
sync
reboot -f
