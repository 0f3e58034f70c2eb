# Sourced by start.sh, test.sh and bench: makes sure the Node.js that runs everything after it
# (npm ci, the build, the service, the tests) is at least 22.12, the minimum in package.json's
# `engines`. When the machine's own Node is older (Debian 12 ships 20, end of life since
# 2026-04-30), it puts a project-local Node 24 LTS in .runtime/ from the npm registry's
# `node-linux-*` package, checked against the integrity pinned below, and puts it first on PATH.
# The package also ships include/node/, the headers node-gyp needs to compile better-sqlite3;
# npm_config_nodedir points node-gyp at them, so nothing is downloaded from nodejs.org.
# Usage: source scripts/ensure-node.sh  (from the repository root)

snapkeep_node_version=24.22.3
declare -A snapkeep_node_integrity=(
  [x64]="sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA=="
  [arm64]="sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw=="
)

snapkeep_node_is_new_enough() {
  # Node >= 22.12 (require(esm), zlib zstd comes with 22.15/23.8; the product is tested on 24).
  "$1" -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=12)?0:1)' 2>/dev/null
}

snapkeep_ensure_node() {
  local root arch dir want got tgz
  root=$(pwd)
  if [ -z "${SNAPKEEP_USE_LOCAL_NODE:-}" ] && command -v node >/dev/null 2>&1 && snapkeep_node_is_new_enough node; then
    return 0
  fi
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "ensure-node: no Node ${snapkeep_node_version} package for $(uname -m); install Node >= 22.12 yourself" >&2; return 1 ;;
  esac
  dir="$root/.runtime/node-v${snapkeep_node_version}-linux-${arch}"
  if [ ! -x "$dir/bin/node" ]; then
    echo "ensure-node: this machine's Node is older than 22.12; fetching Node ${snapkeep_node_version} (node-linux-${arch}) from the npm registry into .runtime/" >&2
    mkdir -p "$root/.runtime"
    local tmp
    tmp=$(mktemp -d "$root/.runtime/fetch.XXXXXX")
    tgz=$(cd "$tmp" && npm pack --silent "node-linux-${arch}@${snapkeep_node_version}" 2>/dev/null | tail -n1)
    if [ -z "$tgz" ] || [ ! -f "$tmp/$tgz" ]; then
      rm -rf "$tmp"
      echo "ensure-node: npm pack node-linux-${arch}@${snapkeep_node_version} failed" >&2
      return 1
    fi
    want=${snapkeep_node_integrity[$arch]}
    got="sha512-$(openssl dgst -sha512 -binary "$tmp/$tgz" | base64 -w0)"
    if [ "$got" != "$want" ]; then
      rm -rf "$tmp"
      echo "ensure-node: node-linux-${arch}@${snapkeep_node_version} does not match its pinned integrity (got ${got})" >&2
      return 1
    fi
    mkdir -p "$tmp/unpacked"
    tar -xzf "$tmp/$tgz" -C "$tmp/unpacked"
    chmod +x "$tmp/unpacked/package/bin/node"
    rm -rf "$dir"
    mv "$tmp/unpacked/package" "$dir"
    rm -rf "$tmp"
  fi
  export PATH="$dir/bin:$PATH"
  export npm_config_nodedir="$dir"
  hash -r
  if ! snapkeep_node_is_new_enough node; then
    echo "ensure-node: $dir/bin/node does not run" >&2
    return 1
  fi
}

snapkeep_ensure_node
