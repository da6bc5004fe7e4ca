#!/bin/sh
# Starts the X server and a window manager on :99, then waits; exits when stopped.
set -e
Xvfb :99 -screen 0 1280x720x24 -nolisten tcp &
for i in $(seq 1 50); do xdpyinfo -display :99 >/dev/null 2>&1 && break; sleep 0.1; done
openbox &
xterm -geometry 100x30+20+20 &
trap 'kill 0; exit 0' TERM INT
wait
