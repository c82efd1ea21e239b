#!/bin/sh
# A Liaison centre as an active/standby pair under Pacemaker (pcs 0.11, Debian 12 / RHEL 9),
# on DRBD replicating synchronously between the two hosts (drbd-liaison.res). Run once, on one
# host, after `pcs cluster setup` and `pcs cluster start --all`. docs/OPERATIONS.md, "Standby
# failover", explains every choice; the short of it:
#
# * STONITH is on: a host that stops answering is powered off before its resources move, so the
#   old active can never write to the data dir again (keepalived alone cannot do that).
# * One group, started in order and stopped in reverse: the file system holding
#   etc/ and data/ (only on the DRBD primary), the floating address the peers dial, the node.
# * The node runs from liaison.service plus shared-volume.conf, disabled at boot on both hosts:
#   only Pacemaker starts it, and only where the volume is mounted.
#
# On a SAN LUN instead of DRBD: drop liaison-drbd and its two constraints, fence with
# fence_scsi (SCSI persistent reservations) or SBD as well as power, and point liaison-fs at
# the LUN. On a cloud block volume: the provider's agent that attaches the volume (and moves
# the address: aws-vpc-move-ip, gcp-vpc-move-vip, …) replaces liaison-drbd and liaison-ip.
set -eu

VIP=${VIP:-192.0.2.10}          # the address in every peer's [[peers]] entry for this centre
NETMASK=${NETMASK:-24}
HOST_A=${HOST_A:-liaison-a}     # cluster node names
HOST_B=${HOST_B:-liaison-b}
FSTYPE=${FSTYPE:-xfs}

cib=$(mktemp)
trap 'rm -f "$cib"' EXIT
pcs cluster cib "$cib"
p() { pcs -f "$cib" "$@"; }

# Fencing: one device per host (here IPMI; use the one your hardware or hypervisor offers).
# When the two hosts lose sight of each other both try to fence; the delay on the device that
# fences host A lets A shoot first and keep the centre.
p property set stonith-enabled=true
p stonith create fence-a fence_ipmilan ip=192.0.2.21 username=fence password=CHANGE-ME \
  lanplus=1 pcmk_host_list="$HOST_A" pcmk_delay_base=10s
p stonith create fence-b fence_ipmilan ip=192.0.2.22 username=fence password=CHANGE-ME \
  lanplus=1 pcmk_host_list="$HOST_B"
p constraint location fence-a avoids "$HOST_A"
p constraint location fence-b avoids "$HOST_B"

# The replicated disk: primary on one host at a time.
p resource create liaison-drbd ocf:linbit:drbd drbd_resource=liaison \
  op monitor interval=29s role=Promoted op monitor interval=31s role=Unpromoted \
  promotable promoted-max=1 promoted-node-max=1 clone-max=2 clone-node-max=1 notify=true

# File system, address, node: in this order, on the primary.
p resource create liaison-fs ocf:heartbeat:Filesystem \
  device=/dev/drbd/by-res/liaison/0 directory=/srv/liaison fstype="$FSTYPE" \
  --group liaison
p resource create liaison-ip ocf:heartbeat:IPaddr2 ip="$VIP" cidr_netmask="$NETMASK" \
  --group liaison
p resource create liaison-node systemd:liaison \
  op start timeout=60s op stop timeout=40s op monitor interval=10s timeout=20s \
  --group liaison
p constraint colocation add liaison with Promoted liaison-drbd-clone INFINITY
p constraint order promote liaison-drbd-clone then start liaison

# A recovered host does not take the centre back by itself: a move is a takeover, done once.
p resource defaults update resource-stickiness=100

pcs cluster cib-push "$cib" --config
