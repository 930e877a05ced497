# Shared by scripts/test: install the real services the integration tests drive, once per machine.
# Everything is cached under $KFP_VIZ_CACHE (default ~/.cache/kfp-viz), Go's module and build
# caches included; builds run at low priority. The paths are exported for
# tests/integration/services.py, container.py and browser.py.
#   MinIO       go install github.com/minio/minio@latest (MinIO's documented source install)
#   SeaweedFS   KFP's object store since 2.15: `weed` built from its Go module
#   Kubernetes  etcd, kube-apiserver and kubectl built from Go modules; kustomize by go install
#   Kafka       kafka_2.13 + runtime dependencies from Maven Central (scripts/kafka/pom.xml), Java 17
#   Chromium    Debian's package `chromium` (driven by Playwright for Python; never `playwright install`)
#   nginx       Debian's package: the reverse proxy the gateway tests put in front of the server
#   Istio CRDs  kubernetes/customresourcedefinitions.gen.yaml of the Go module istio.io/api
#   podman      Debian's podman (runtime runc) and mmdebstrap, which makes the test image's base
#   axe-core    npm's `axe-core` (npm pack), injected into pages by the accessibility tests
#   SDK venvs   `pip install ./sdk`, `./sdk[kafka]` alone (scripts/sdk_venv.py), as a step has it,
#               and `./sdk[kfp]`: KFP's SDK pins protobuf and kubernetes below the server's
# On a fresh 2-CPU machine the first run spends about 25 minutes here (Kubernetes alone ~10).

KFP_VIZ_CACHE="${KFP_VIZ_CACHE:-$HOME/.cache/kfp-viz}"
KUBERNETES_VERSION=v1.37.2
ETCD_VERSION=v3.7.0            # the etcd that Kubernetes $KUBERNETES_VERSION requires
KUSTOMIZE_VERSION=v5.8.2       # later versions need Go 1.27
SEAWEEDFS_VERSION=v0.0.0-20261109003541-7506e5f91cd6
DEBIAN_SUITE=bookworm
AXE_CORE_VERSION=4.14.1
ISTIO_API_VERSION=v1.32.0      # Istio's API module; its CRDs are installed by the deploy tests

_go() {
  command -v go >/dev/null || { echo "building the test services needs Go 1.26+" >&2; exit 1; }
  GOMODCACHE="$KFP_VIZ_CACHE/go/mod" GOCACHE="$KFP_VIZ_CACHE/go/build" nice -n 19 go "$@"
}

ensure_minio() {
  export KFP_VIZ_MINIO="${KFP_VIZ_MINIO:-$KFP_VIZ_CACHE/bin/minio}"
  if [ ! -x "$KFP_VIZ_MINIO" ]; then
    echo ">> building MinIO with go install (first run only, a few minutes)" >&2
    GOBIN="$(dirname "$KFP_VIZ_MINIO")" _go install github.com/minio/minio@latest
  fi
}

# `go install pkg@version` refuses modules whose go.mod has replace directives (Kubernetes and
# SeaweedFS both do), so each is built from a throwaway module that requires it and restates
# those replacements.
_throwaway_module() {  # folder, module name, go.mod body
  mkdir -p "$1"
  printf 'module %s\n\ngo 1.26\n\n%s\n' "$2" "$3" > "$1/go.mod"
}

ensure_seaweedfs() {
  local dir="$KFP_VIZ_CACHE/seaweedfs-$SEAWEEDFS_VERSION"
  export KFP_VIZ_WEED="${KFP_VIZ_WEED:-$dir/weed}"
  [ -x "$KFP_VIZ_WEED" ] && return
  echo ">> building SeaweedFS (first run only, a few minutes)" >&2
  _throwaway_module "$dir/src" kfpviz.local/weed "require github.com/seaweedfs/seaweedfs $SEAWEEDFS_VERSION
replace github.com/tyler-smith/go-bip39 => github.com/cosmos/go-bip39 v1.0.0"
  (cd "$dir/src" && _go get "github.com/seaweedfs/seaweedfs/weed@$SEAWEEDFS_VERSION" \
     && _go build -mod=mod -ldflags "-s -w" -o "$KFP_VIZ_WEED.tmp" github.com/seaweedfs/seaweedfs/weed)
  mv "$KFP_VIZ_WEED.tmp" "$KFP_VIZ_WEED"
}

# Kubernetes: k8s.io/kubernetes replaces every staging module (k8s.io/api, client-go, ...) with
# a local folder; the throwaway module points each at its published v0.Y.Z instead (the
# unpublished k8s.io/sample-* are skipped). etcd's server is built beside it at the version
# Kubernetes requires, through a three-line main of our own.
ensure_kubernetes() {
  local dir="$KFP_VIZ_CACHE/kubernetes-$KUBERNETES_VERSION"
  export KFP_VIZ_KUBE_APISERVER="$dir/kube-apiserver" KFP_VIZ_KUBECTL="$dir/kubectl" \
    KFP_VIZ_ETCD="$dir/etcd"
  [ -f "$dir/.complete" ] && return
  echo ">> building etcd, kube-apiserver and kubectl (first run only, about 10 minutes)" >&2
  local staging="v0.${KUBERNETES_VERSION#v1.}" modfile replaces
  mkdir -p "$dir/src"
  modfile=$(cd "$dir/src" && _go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" \
    | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')
  replaces=$(grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging' "$modfile" | awk '{print $1}' \
    | grep -v '^k8s.io/sample-' | sed "s|.*|replace & => & $staging|")
  _throwaway_module "$dir/src" kfpviz.local/kubernetes "require k8s.io/kubernetes $KUBERNETES_VERSION
require go.etcd.io/etcd/server/v3 $ETCD_VERSION
$replaces"
  mkdir -p "$dir/src/etcd"
  printf 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n' \
    > "$dir/src/etcd/main.go"
  local minor="${staging#v0.}"; minor="${minor%%.*}"
  local stamp="-s -w -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION"
  stamp="$stamp -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  (cd "$dir/src" \
     && _go get "k8s.io/kubernetes/cmd/kube-apiserver@$KUBERNETES_VERSION" \
          "k8s.io/kubernetes/cmd/kubectl@$KUBERNETES_VERSION" \
          "go.etcd.io/etcd/server/v3/etcdmain@$ETCD_VERSION" \
     && _go build -mod=mod -trimpath -ldflags "$stamp" -o "$dir/" \
          k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl ./etcd)
  touch "$dir/.complete"
}

ensure_kustomize() {
  local dir="$KFP_VIZ_CACHE/kustomize-$KUSTOMIZE_VERSION"
  export KFP_VIZ_KUSTOMIZE="$dir/kustomize"
  [ -x "$KFP_VIZ_KUSTOMIZE" ] && return
  echo ">> building kustomize $KUSTOMIZE_VERSION (first run only)" >&2
  GOBIN="$dir" _go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
}

# Istio's CRDs as Istio generates them, from its API module on the Go module proxy (no build):
# the deploy tests install them into the kube-apiserver to admit VirtualServices and
# AuthorizationPolicies against Istio's own schemas.
ensure_istio_crds() {
  local file="$KFP_VIZ_CACHE/istio-api-$ISTIO_API_VERSION/customresourcedefinitions.gen.yaml" dir
  export KFP_VIZ_ISTIO_CRDS="$file"
  [ -f "$file" ] && return
  echo ">> fetching Istio's CRDs (istio.io/api $ISTIO_API_VERSION) from the Go module proxy (first run only)" >&2
  dir=$(cd / && _go mod download -json "istio.io/api@$ISTIO_API_VERSION" \
    | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
  mkdir -p "$(dirname "$file")"
  cat "$dir/kubernetes/customresourcedefinitions.gen.yaml" > "$file.tmp"
  mv "$file.tmp" "$file"
}

ensure_kafka() {
  local pom=scripts/kafka/pom.xml
  export KFP_VIZ_KAFKA_LIBS="${KFP_VIZ_KAFKA_LIBS:-$KFP_VIZ_CACHE/kafka-$(sha256sum "$pom" | cut -c1-12)}"
  if [ ! -f "$KFP_VIZ_KAFKA_LIBS/.complete" ]; then
    command -v mvn >/dev/null || { echo "Kafka's jars are fetched with Maven; install maven" >&2; exit 1; }
    command -v java >/dev/null || { echo "Kafka needs Java 17+; install a JDK" >&2; exit 1; }
    echo ">> fetching Kafka's jars from Maven Central (first run only)" >&2
    mvn -q -B -f "$pom" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$KFP_VIZ_KAFKA_LIBS"
    touch "$KFP_VIZ_KAFKA_LIBS/.complete"
  fi
}

_apt_install() {  # packages...: Debian's, as root or through sudo; waits for another apt
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -q \
    --no-install-recommends "$@" >/dev/null
}

ensure_chromium() {
  export KFP_VIZ_CHROMIUM="${KFP_VIZ_CHROMIUM:-/usr/bin/chromium}"
  if [ ! -x "$KFP_VIZ_CHROMIUM" ]; then
    echo ">> installing Debian's chromium package (first run only)" >&2
    _apt_install chromium
  fi
}

# The gateway tests run Debian's nginx on a free port with a configuration of their own
# (tests/integration/services.py); installing the package is all this does.
ensure_nginx() {
  export KFP_VIZ_NGINX="${KFP_VIZ_NGINX:-/usr/sbin/nginx}"
  if [ ! -x "$KFP_VIZ_NGINX" ]; then
    echo ">> installing Debian's nginx package (first run only)" >&2
    _apt_install nginx
  fi
}

# The image test builds deploy/Dockerfile with podman from a local base (the registry behind
# python:3.11-slim is out of reach here): Debian $DEBIAN_SUITE made by mmdebstrap, with python3,
# venv, and this machine's CA bundle for pip (its egress proxy signs with its own CA).
# Podman keeps its images under the cache too (tests/integration/container.py).
ensure_podman() {
  if ! command -v podman >/dev/null || ! command -v runc >/dev/null \
     || ! command -v mmdebstrap >/dev/null; then
    echo ">> installing Debian's podman, runc and mmdebstrap (first run only)" >&2
    _apt_install podman runc mmdebstrap
  fi
  export KFP_VIZ_TEST_BASE="$KFP_VIZ_CACHE/images/base-$DEBIAN_SUITE.tar"
  [ -f "$KFP_VIZ_TEST_BASE" ] && return
  echo ">> making the image test's Debian base with mmdebstrap (first run only)" >&2
  mkdir -p "$(dirname "$KFP_VIZ_TEST_BASE")"
  local bundle=/etc/ssl/certs/ca-certificates.crt
  nice -n 19 mmdebstrap --quiet --variant=minbase --format=tar \
    --include=python3,python3-venv,ca-certificates,passwd \
    --customize-hook="copy-in $bundle /etc/ssl/certs/" \
    --customize-hook='printf "[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n" > "$1/etc/pip.conf"' \
    "$DEBIAN_SUITE" "$KFP_VIZ_TEST_BASE.tmp" http://deb.debian.org/debian
  mv "$KFP_VIZ_TEST_BASE.tmp" "$KFP_VIZ_TEST_BASE"
}

ensure_axe() {
  local folder="$KFP_VIZ_CACHE/axe-core-$AXE_CORE_VERSION"
  export KFP_VIZ_AXE="${KFP_VIZ_AXE:-$folder/package/axe.min.js}"
  if [ ! -f "$KFP_VIZ_AXE" ]; then
    command -v npm >/dev/null || { echo "axe-core comes from npm; install Node.js and npm" >&2; exit 1; }
    echo ">> fetching axe-core $AXE_CORE_VERSION from npm (first run only)" >&2
    mkdir -p "$folder"
    (cd "$folder" && npm pack "axe-core@$AXE_CORE_VERSION" --silent >/dev/null \
      && tar -xzf "axe-core-$AXE_CORE_VERSION.tgz" package/axe.min.js package/LICENSE)
  fi
}

# The SDK installed alone, base and with the kafka extra, as pipeline steps install it
# (tests/integration/test_sdk_install.py), and with KFP's SDK, where pipelines are compiled and
# run locally (tests/integration/test_live_view_link.py); one venv per SDK digest, so a change
# to sdk/ makes new ones.
ensure_sdk_venvs() {
  /usr/bin/python3 scripts/sdk_venv.py >/dev/null
  /usr/bin/python3 scripts/sdk_venv.py kafka >/dev/null
  /usr/bin/python3 scripts/sdk_venv.py kfp >/dev/null
}

# Everything the tests need, installed side by side where the steps wait on different things:
# the Go builds take the CPU in this shell while pip, Maven, npm, apt and mmdebstrap, which
# mostly wait on the network and the disk, run beside them. Each ensure_* is a quick no-op
# once its tool is cached, so all are called again at the end to export their paths here.
ensure_all() {
  local started=$SECONDS pids=() failed=0 pid
  ensure_venv & pids+=($!)
  { ensure_kafka && ensure_axe && ensure_sdk_venvs; } & pids+=($!)
  { ensure_chromium && ensure_nginx && ensure_podman; } & pids+=($!)
  { ensure_minio && ensure_seaweedfs && ensure_kubernetes && ensure_kustomize \
      && ensure_istio_crds; } || failed=1
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  if [ "$failed" -ne 0 ]; then
    echo "installing what the tests need failed (the reason is above)" >&2
    exit 1
  fi
  ensure_venv; ensure_minio; ensure_seaweedfs; ensure_kubernetes; ensure_kustomize
  ensure_istio_crds; ensure_kafka; ensure_axe; ensure_sdk_venvs; ensure_chromium; ensure_nginx
  ensure_podman
  if [ $((SECONDS - started)) -gt 5 ]; then
    echo ">> installed in $((SECONDS - started)) s" >&2
  fi
}
