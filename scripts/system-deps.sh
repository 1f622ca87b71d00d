#!/usr/bin/env bash
# Install, from Debian's packages, the real parts the test suite runs against
# (PostgreSQL, Xvfb, Chromium, zbar) when they are missing. Safe to run repeatedly.
set -euo pipefail

need=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
command -v Xvfb >/dev/null || need+=(xvfb)
command -v chromium >/dev/null || need+=(chromium)
command -v xdotool >/dev/null || need+=(xdotool)
# Kivy's wheels bring SDL2; OpenGL under Xvfb comes from Mesa
[ -e /usr/lib/x86_64-linux-gnu/libGL.so.1 ] || need+=(libgl1 libgl1-mesa-dri)
[ -e /usr/lib/x86_64-linux-gnu/libmtdev.so.1 ] || need+=(libmtdev1)
# the app reads the enrolment QR code with zbar (pyzbar loads libzbar.so.0)
[ -e /usr/lib/x86_64-linux-gnu/libzbar.so.0 ] || need+=(libzbar0)

if ((${#need[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "system-deps: installing ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
