#!/usr/bin/env bash
# Writes a minimal sandbox image: a root filesystem tarball of Debian's static busybox and
# its applets, for the sandbox host's image library (docs/images.md).
#   bash scripts/busybox-image.sh OUT.tar
set -euo pipefail
out=${1:?usage: busybox-image.sh OUT.tar}
bb=$(command -v busybox) || { echo "busybox-image.sh: apt-get install busybox-static" >&2; exit 1; }
file -L "$bb" 2>/dev/null | grep -q "statically linked" || echo "busybox-image.sh: warning: $bb is not static" >&2
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,etc,tmp,root,home,work,var/run}
chmod 1777 "$root/tmp"
cp "$bb" "$root/bin/busybox"
for a in $("$root/bin/busybox" --list); do [ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' > "$root/etc/group"
tar -C "$root" -cf "$out.tmp" . && mv "$out.tmp" "$out"
