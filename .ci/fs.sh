#!/usr/bin/env bash
# Setup for TestIntegrationFS and TestIntegrationFSContainer
# (integration_fs_test.go): the mkfs tools for the loop-device file systems,
# losetup and mount, logrotate and gzip for the scenarios, and the kernel's
# loop, overlay, xfs and btrfs support. Idempotent; run as root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 install -y -qq e2fsprogs xfsprogs btrfs-progs util-linux mount logrotate gzip >/dev/null
# Load what the kernel may have as modules; built-in ones make modprobe fail harmlessly.
for m in loop overlay xfs btrfs; do modprobe "$m" 2>/dev/null || true; done
# What the kernel lacks is no install's to mend: the tests that need it skip
# with the reason (under CI=true too), so say it here and go on.
for fs in ext4 xfs btrfs overlay tmpfs; do
  grep -qw "$fs" /proc/filesystems || echo "note: the kernel has no $fs file system; its cells will skip"
done
losetup -f >/dev/null || echo "note: no free loop device; the loop-device cells will skip"
