# Shared by scripts/test: install the real services the integration tests drive, once per machine.
# Everything is cached under $KFP_VIZ_CACHE (default ~/.cache/kfp-viz); the paths are exported for
# tests/integration/services.py and browser.py.
#   MinIO     go install github.com/minio/minio@latest (MinIO's documented source install)
#   Kafka     kafka_2.13 + runtime dependencies from Maven Central (scripts/kafka/pom.xml), Java 17
#   Chromium  Debian's package `chromium` (driven by Playwright for Python; never `playwright install`)
#   axe-core  npm's `axe-core` (npm pack), injected into pages by the accessibility tests

KFP_VIZ_CACHE="${KFP_VIZ_CACHE:-$HOME/.cache/kfp-viz}"

ensure_minio() {
  export KFP_VIZ_MINIO="${KFP_VIZ_MINIO:-$KFP_VIZ_CACHE/bin/minio}"
  if [ ! -x "$KFP_VIZ_MINIO" ]; then
    command -v go >/dev/null || { echo "MinIO is built with Go; install Go 1.24+ first" >&2; exit 1; }
    echo ">> building MinIO with go install (first run only, a few minutes)" >&2
    GOBIN="$(dirname "$KFP_VIZ_MINIO")" go install github.com/minio/minio@latest
  fi
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

ensure_chromium() {
  export KFP_VIZ_CHROMIUM="${KFP_VIZ_CHROMIUM:-/usr/bin/chromium}"
  if [ ! -x "$KFP_VIZ_CHROMIUM" ]; then
    echo ">> installing Debian's chromium package (first run only)" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium >/dev/null
  fi
}

AXE_CORE_VERSION=4.14.1

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
