#!/usr/bin/env bash
# funnel.sh — expose relayq's webhook (and nothing else) through Tailscale Funnel.
#
# Usage:
#   deploy/funnel.sh [--config FILE] [--port PORT] [--admin-port PORT] [--https-port 443|8443|10000] [--dry-run]
#   deploy/funnel.sh --status
#   deploy/funnel.sh --off [--https-port N] [--dry-run]
#   deploy/funnel.sh --help
#
# Runs (Tailscale 1.52 or later):
#   tailscale funnel --bg --yes --https=443 --set-path=/webhook http://127.0.0.1:8080/webhook
# so that https://<machine>.<tailnet>.ts.net/webhook reaches relayq's public
# listener's /webhook, and every other path (/healthz, /, the admin listener)
# stays unreachable from the internet. Point the GitHub webhook (or
# `relayq hooks install --url`) at that URL.
#
# --config      relayq's config file, read the way relayq finds it: --config,
#               else $RELAYQ_CONFIG, else /etc/relayq/config.yaml when it
#               exists. Its top-level `listen:` and `admin_listen:` give the
#               ports (and the public listener's address, unless it is a
#               wildcard such as 0.0.0.0)
# --port        relayq's public listener port (default: the config's
#               `listen:`, else 8080, relayq's default)
# --admin-port  relayq's admin listener port (default: the config's
#               `admin_listen:`, else 8081); the script refuses to expose it
# --https-port  the public Funnel port: 443 (default), 8443 or 10000
# --status      show what Tailscale serves and funnels now, and warn about
#               anything other than /webhook that is public
# --off         stop funnelling /webhook (other serve/funnel entries are kept)
# --dry-run     print the tailscale commands instead of running them
#
# $TAILSCALE names the CLI (default: tailscale on PATH, or the macOS app's
# /Applications/Tailscale.app/Contents/MacOS/Tailscale). Setting up Funnel
# needs it enabled for the tailnet (the CLI prints a link the first time) and
# usually root (sudo) or `tailscale set --operator=$USER`.
#
# Exit codes: 0 ok, 1 tailscale failed or something unsafe is exposed,
# 2 usage error or refused configuration.
set -euo pipefail

PROG=funnel.sh
usage() { sed -n '2,/^set -euo pipefail/{/^set -euo/d;s/^# \{0,1\}//;p;}' "$0"; }
die() {
  local code=$1
  shift
  printf '%s: error: %s\n' "$PROG" "$*" >&2
  exit "$code"
}
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }

port_of() { # HOST:PORT -> PORT
  local v=$1
  v=${v##*:}
  printf '%s' "$v"
}

host_of() { # HOST:PORT -> HOST, without [] around an IPv6 address
  local v=${1%:*}
  v=${v#[}
  v=${v%]}
  printf '%s' "$v"
}

# config_value FILE KEY: the value of a top-level `KEY: value` line of a YAML
# file (quotes and a trailing comment removed), or nothing. relayq's
# listen/admin_listen are plain scalars, so this is enough without a YAML
# parser on the machine.
config_value() {
  sed -n "s/^$2:[[:space:]]*[\"']\{0,1\}\([^\"' #]*\).*/\1/p" "$1" | tail -n 1
}

CONFIG=${RELAYQ_CONFIG:-}
PORT=""
ADMIN_PORT=""
HTTPS_PORT=443
MODE=on
DRY_RUN=0
WEBHOOK_PATH=/webhook

need_arg() { [[ $# -ge 2 ]] || die 2 "option $1 needs a value"; }
while [[ $# -gt 0 ]]; do
  case $1 in
    -h | --help)
      usage
      exit 0
      ;;
    --config)
      need_arg "$@"
      CONFIG=$2
      shift 2
      ;;
    --port)
      need_arg "$@"
      PORT=$2
      shift 2
      ;;
    --admin-port)
      need_arg "$@"
      ADMIN_PORT=$2
      shift 2
      ;;
    --https-port)
      need_arg "$@"
      HTTPS_PORT=$2
      shift 2
      ;;
    --status)
      MODE=status
      shift
      ;;
    --off)
      MODE=off
      shift
      ;;
    --dry-run)
      DRY_RUN=1
      shift
      ;;
    *) die 2 "unknown argument: $1 (see --help)" ;;
  esac
done

if [[ -z $CONFIG && -f /etc/relayq/config.yaml ]]; then
  CONFIG=/etc/relayq/config.yaml
fi
TARGET_HOST=127.0.0.1
if [[ -n $CONFIG ]]; then
  [[ -r $CONFIG ]] || die 2 "cannot read relayq's config $CONFIG"
  listen=$(config_value "$CONFIG" listen)
  admin_listen=$(config_value "$CONFIG" admin_listen)
  if [[ -n $listen ]]; then
    [[ -n $PORT ]] || PORT=$(port_of "$listen")
    case $(host_of "$listen") in
      "" | 0.0.0.0 | "::" | "*") ;;
      *) TARGET_HOST=$(host_of "$listen") ;;
    esac
    [[ $TARGET_HOST == *:* ]] && TARGET_HOST="[$TARGET_HOST]"
  fi
  [[ -z $admin_listen || -n $ADMIN_PORT ]] || ADMIN_PORT=$(port_of "$admin_listen")
fi
PORT=${PORT:-8080}
ADMIN_PORT=${ADMIN_PORT:-8081}

if ! [[ $PORT =~ ^[0-9]+$ ]] || ((PORT < 1 || PORT > 65535)); then
  die 2 "--port must be a TCP port, got '$PORT'"
fi
[[ $ADMIN_PORT =~ ^[0-9]+$ ]] || die 2 "--admin-port must be a TCP port, got '$ADMIN_PORT'"
case $HTTPS_PORT in
  443 | 8443 | 10000) ;;
  *) die 2 "Funnel only serves on 443, 8443 or 10000, got '$HTTPS_PORT'" ;;
esac
if [[ $PORT == "$ADMIN_PORT" ]]; then
  die 2 "refusing: port $PORT is relayq's admin listener; only the public listener's /webhook may be funnelled"
fi

TS=${TAILSCALE:-}
if [[ -z $TS ]]; then
  if command -v tailscale >/dev/null 2>&1; then
    TS=tailscale
  elif [[ -x /Applications/Tailscale.app/Contents/MacOS/Tailscale ]]; then
    TS=/Applications/Tailscale.app/Contents/MacOS/Tailscale
  else
    TS=tailscale
  fi
fi

ts() {
  if [[ $DRY_RUN == 1 ]]; then
    printf '+ %s' "$TS"
    printf ' %q' "$@"
    printf '\n'
    return 0
  fi
  command -v "$TS" >/dev/null 2>&1 || [[ -x $TS ]] ||
    die 1 "the tailscale CLI was not found (install Tailscale, or set TAILSCALE=/path/to/tailscale)"
  "$TS" "$@"
}

# check_status: show the serve/funnel config; exit 1 if the admin port or any
# path other than /webhook is public.
check_status() {
  local json
  if [[ $DRY_RUN == 1 ]]; then
    ts funnel status
    return 0
  fi
  ts funnel status || return 1
  json=$(ts serve status --json 2>/dev/null) || return 0
  command -v python3 >/dev/null 2>&1 || {
    warn "python3 not found: cannot check which paths are public"
    return 0
  }
  printf '%s' "$json" | python3 -c '
import json, sys
admin, webhook = sys.argv[1], sys.argv[2]
try:
    cfg = json.load(sys.stdin) or {}
except ValueError:
    sys.exit(0)
funnel = {hp for hp, on in (cfg.get("AllowFunnel") or {}).items() if on}
bad = []
for hostport, web in (cfg.get("Web") or {}).items():
    if hostport not in funnel:
        continue
    for path, h in (web.get("Handlers") or {}).items():
        target = h.get("Proxy") or h.get("Path") or h.get("Text") or ""
        if path != webhook or (":" + admin) in target:
            bad.append("%s%s -> %s" % (hostport, path, target))
for hostport in funnel:
    port = hostport.rsplit(":", 1)[-1]
    if str((cfg.get("TCP") or {}).get(port, {}).get("TCPForward", "")).endswith(":" + admin):
        bad.append("%s (TCP) -> admin port" % hostport)
if bad:
    print("funnel.sh: warning: public besides %s: %s" % (webhook, "; ".join(bad)), file=sys.stderr)
    sys.exit(1)
' "$ADMIN_PORT" "$WEBHOOK_PATH"
}

case $MODE in
  status)
    check_status
    ;;
  off)
    ts funnel --https="$HTTPS_PORT" --set-path="$WEBHOOK_PATH" off
    echo "funnel.sh: $WEBHOOK_PATH is no longer funnelled on :$HTTPS_PORT"
    ;;
  on)
    target="http://$TARGET_HOST:$PORT$WEBHOOK_PATH"
    if [[ $DRY_RUN == 0 ]] && command -v curl >/dev/null 2>&1; then
      if ! curl -fsS --max-time 3 -o /dev/null "http://$TARGET_HOST:$PORT/healthz"; then
        warn "relayq does not answer on http://$TARGET_HOST:$PORT/healthz; start it first (the funnel is set up anyway)"
      fi
    fi
    ts funnel --bg --yes --https="$HTTPS_PORT" --set-path="$WEBHOOK_PATH" "$target"
    echo "funnel.sh: https://<this machine>.<tailnet>.ts.net$([[ $HTTPS_PORT == 443 ]] || printf ':%s' "$HTTPS_PORT")$WEBHOOK_PATH -> $target"
    echo "funnel.sh: check: curl -i https://<this machine>.<tailnet>.ts.net/healthz must NOT reach relayq (404 from Tailscale)"
    check_status || die 1 "something besides $WEBHOOK_PATH is public: remove it (tailscale funnel status; tailscale funnel --https=PORT --set-path=PATH off)"
    ;;
esac
