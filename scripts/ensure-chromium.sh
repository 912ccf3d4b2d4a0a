#!/usr/bin/env bash
# Test set-up: the HTML report is checked in headless Chromium (Debian's `chromium` package).
# Installs it when missing and the machine allows (root with apt-get); otherwise says so and lets the
# browser test skip itself with that reason.
set -u
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the report test..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; } \
    || echo "warning: could not install chromium; the browser test will be skipped" >&2
else
  echo "warning: chromium is missing and cannot be installed here (needs root and apt-get)" >&2
fi
exit 0
