#!/usr/bin/env bash
# tests/browser/page_test.sh DIFU MODEL SCREENSHOT INIT — starts `difu serve` on a loopback port, drives
# its web page in headless Chromium (tools/browser-test/page_test.mjs: txt2img, live previews, img2img
# with a painted mask, gallery and reuse; screenshot), and stops the server. Bounded: the server is
# killed on any exit.
set -euo pipefail
difu=$1 model=$2 shot=$3 init=$4
here=$(cd "$(dirname "$0")/../.." && pwd)
[ -x /usr/bin/chromium ] || { echo "page test: /usr/bin/chromium missing (bash scripts/setup --tests installs it)"; exit 1; }
[ -d "$here/tools/browser-test/node_modules/playwright-core" ] || { echo "page test: playwright-core missing (bash scripts/setup --tests installs it)"; exit 1; }
port=$((20000 + $$ % 10000))
"$difu" serve -m "$model" --host 127.0.0.1 --port "$port" --precision fp32 > "$shot.server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
timeout 150 node "$here/tools/browser-test/page_test.mjs" "http://127.0.0.1:$port/" "$shot" "$init"
[ -s "$shot" ] || { echo "page test: no screenshot written"; exit 1; }
echo "page test: screenshot $shot"
