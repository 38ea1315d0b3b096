#!/usr/bin/env bash
# node-teardown.sh DIR NAME IP_FORWARD: removes everything a node run (test/peers/node-host.ts) made, whether the run
# ended well or its test process was killed: every process left in the run's cgroups (containerd's shims and the
# containers; the peers it started itself are stopped first), the mounts under DIR (container root filesystems, pod
# network namespaces, the kubelet's volumes), the cgroups, the network namespace (its veth and bridges go with it),
# the files the CNI plugins and the kubelet keep outside DIR, and DIR. IP_FORWARD is the host's value to restore.
set -u
dir=$1 name=$2 forward=$3
# The containers and pod sandboxes containerd still has.
ids=$(ls "$dir/containerd/state/io.containerd.runtime.v2.task/k8s.io" 2>/dev/null)
# The run's cgroup, and those containerd made for its containers (/k8s.io/<id> when the kubelet names no parent).
cgroups() {
  local h id
  for h in /sys/fs/cgroup/*/; do
    [[ -d "$h$name" ]] && echo "$h$name"
    for id in $ids; do
      [[ -d "${h}k8s.io/$id" ]] && echo "${h}k8s.io/$id"
    done
  done
}
run_cgroups=$(cgroups)
for attempt in 1 2 3 4 5; do
  pids=$(for c in $run_cgroups; do find "$c" -name cgroup.procs -exec cat {} +; done | sort -u)
  [[ -z "$pids" ]] && break
  # shellcheck disable=SC2086
  kill -9 $pids 2>/dev/null
  sleep 0.2
done
# Deepest first; a lazy unmount so a mount still busy in a dying process does not stop the rest.
awk -v dir="$dir/" 'index($5, dir) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
for c in $run_cgroups; do find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null; done
# containerd's parent of those; removed only when empty, so one in use by anyone else stays.
for h in /sys/fs/cgroup/*/; do [[ -d "${h}k8s.io" ]] && rmdir "${h}k8s.io" 2>/dev/null; done
ip netns del "$name" 2>/dev/null
# libcni's cache of each sandbox's networks (the pod bridge, and containerd's own loopback network).
rm -f /var/lib/cni/results/"$name"-*
for id in $ids; do rm -f /var/lib/cni/results/cni-loopback-"$id"-lo; done
find /var/log/containers -maxdepth 1 -lname "$dir/*" -delete 2>/dev/null
rm -rf "$dir"
[[ "$(cat /proc/sys/net/ipv4/ip_forward)" == "$forward" ]] || echo "$forward" >/proc/sys/net/ipv4/ip_forward
exit 0
