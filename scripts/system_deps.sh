#!/usr/bin/env bash
# The one system package the full test tier needs: Debian's chromium, which renders the run report in
# tests/run/test_report_browser.py. Sourced by scripts/test.sh (so CI and a newcomer set up the same
# way). As root with apt-get it is installed; otherwise the test run stops here and names the command.
need_chromium() {
  command -v chromium >/dev/null || command -v chromium-browser >/dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's chromium (headless, for the report test)..." >&2
    apt-get install -y -q chromium >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
    return
  fi
  cat >&2 <<'MSG'
error: the full test tier renders the run report in headless Chromium, and chromium is not installed.
  Install it once:   sudo apt-get install chromium
  or run the tiers that need no browser:   bash scripts/test.sh -m "not browser"
MSG
  return 1
}
