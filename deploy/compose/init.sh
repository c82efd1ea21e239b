#!/bin/bash
# The init step of deploy/compose.yaml: creates the two networks' CAs, one certificate per
# node, a trust bundle per network, and each node's node.toml, in /config (a volume shared
# read-only with the nodes). Runs once: if /config/done exists it does nothing.
#
# Each network is a star around its regional centre (every node peers with the others of its
# network); the two centres, CARICC and GCC-CIC, are the gateways: they peer with each other
# over the inter-regional link network and relay between their networks. Each node trusts
# its own CA and imports the other network's trust bundle (`liaison certs trust-bundle`).
#
# This puts every node's key in one volume, which is fine for a demo on one host. A real
# centre generates or receives only its own key (docs/OPERATIONS.md).
set -euo pipefail
out=${CONFIG_DIR:-/config}
owner=${NODE_UID:-10001}
if [[ -e $out/done ]]; then
  echo "init: $out already initialised"
  exit 0
fi

# node id | main address | link address (gateways only)
nodes=(
  "caricc.central-asia|10.74.1.10|10.74.3.10"
  "kz-dcu.central-asia|10.74.1.11|"
  "kg-dcu.central-asia|10.74.1.12|"
  "gcc-cic.gulf|10.74.2.10|10.74.3.11"
  "om-dcu.gulf|10.74.2.11|"
)
centre_of() { [[ $1 == gulf ]] && echo gcc-cic.gulf || echo caricc.central-asia; }
other_of() { [[ $1 == gulf ]] && echo central-asia || echo gulf; }

pki=$out/pki
mkdir -p "$pki"
for net in central-asia gulf; do
  liaison certs new-network --network "$net" --out "$pki/$net"
  liaison certs trust-bundle --ca "$pki/$net" --out "$pki/$net.bundle.pem"
done

for entry in "${nodes[@]}"; do
  IFS='|' read -r id addr link <<<"$entry"
  centre=${id%%.*}
  net=${id#*.}
  other=$(other_of "$net")
  dir=$out/$id
  liaison certs issue-node --ca "$pki/$net" --node "$centre" --out "$dir"
  {
    echo "# $id — written by deploy/compose/init.sh; see deploy/node.example.toml for every key."
    echo "node_id = \"$id\""
    echo 'data_dir = "/var/lib/liaison"'
    echo 'listen = "0.0.0.0:7400"'
    echo
    echo '[identity]'
    echo "cert = \"$id.crt\""
    echo "key = \"$id.key\""
    echo
    echo '# Its own network: CA and CRL from the CA directory.'
    echo '[[trust]]'
    echo "ca = \"../pki/$net/ca.crt\""
    echo "crl = \"../pki/$net/crl.pem\""
    echo
    echo "# The other network, imported from its trust bundle (CA certificate + CRL in one file)."
    echo '[[trust]]'
    echo "bundle = \"../pki/$other.bundle.pem\""
    for peer in "${nodes[@]}"; do
      IFS='|' read -r pid paddr plink <<<"$peer"
      [[ $pid == "$id" ]] && continue
      if [[ ${pid#*.} == "$net" ]]; then
        printf '\n[[peers]]\nnode_id = "%s"\naddress = "%s:7400"\n' "$pid" "$paddr"
      elif [[ -n $link && -n $plink ]]; then
        printf '\n[[peers]]\nnode_id = "%s"\naddress = "%s:7400"\n' "$pid" "$plink"
      fi
    done
    if [[ -n $link ]]; then
      printf '\n[[routes]]\nto = "network:%s"\nvia = "%s"\ndistance = 0\n' "$other" "$(centre_of "$other")"
      printf '\n[[relay]]\nfrom = "%s"\nto = ["%s", "%s"]\n' "$net" "$net" "$other"
      printf '\n[[relay]]\nfrom = "%s"\nto = ["%s"]\n' "$other" "$net"
    else
      printf '\n[[routes]]\nto = "network:%s"\nvia = "%s"\ndistance = 1\n' "$other" "$(centre_of "$net")"
    fi
    printf '\n[api]\nlisten = "127.0.0.1:7443"\n'
    printf '\n[checkpoints]\ninterval_secs = 5\n'
  } >"$dir/node.toml"
  echo "init: $id configured ($dir/node.toml)"
done

# The nodes run as uid 10001 and read their keys (mode 0600).
chown -R "$owner:$owner" "$out"
touch "$out/done"
echo "init: done"
